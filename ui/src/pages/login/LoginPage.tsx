// Login: username, password, realm (from /access/domains), then a TFA step when the
// server answers NeedTFA (TOTP code or recovery key).

import {
  ActionGroup,
  Alert,
  Button,
  Card,
  CardBody,
  CardTitle,
  Form,
  FormGroup,
  FormSelect,
  FormSelectOption,
  TextInput,
} from '@patternfly/react-core';
import { useEffect, useState } from 'react';
import { api, errorMessage, type Domain } from '@/api';
import { finishTfa, login, type Session } from '@/api/session';

const LAST_USER = 'pyxis.lastUser';

export function LoginPage({ onLogin }: { onLogin: (s: Session) => void }) {
  const [domains, setDomains] = useState<Domain[]>([]);
  const [username, setUsername] = useState(() => localStorage.getItem(LAST_USER) ?? '');
  const [password, setPassword] = useState('');
  const [realm, setRealm] = useState('pam');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [tfa, setTfa] = useState<{ username: string; challenge: string } | null>(null);
  const [tfaType, setTfaType] = useState('totp');
  const [code, setCode] = useState('');

  useEffect(() => {
    api
      .get<Domain[]>('/access/domains', undefined, { anonymous: true })
      .then((d) => {
        setDomains(d);
        const def = d.find((x) => x.default) ?? d.find((x) => x.realm === 'pam');
        if (def) setRealm(def.realm);
      })
      .catch(() => setDomains([{ realm: 'pam', type: 'pam' }, { realm: 'pve', type: 'pve' }]));
  }, []);

  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      if (tfa) {
        onLogin(await finishTfa(tfa.username, tfa.challenge, `${tfaType}:${code.trim()}`));
        return;
      }
      const res = await login(username.trim(), password, realm);
      localStorage.setItem(LAST_USER, username.trim());
      if (res.kind === 'tfa') {
        setTfa({ username: res.username, challenge: res.challenge });
        setPassword('');
      } else {
        onLogin(res.session);
      }
    } catch (err) {
      setError(errorMessage(err) === 'authentication failure' ? 'Login failed. Please try again.' : errorMessage(err));
      if (tfa) setCode('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="pyxis-login">
      <Card className="pyxis-login-card" isRounded>
        <CardTitle>
          <span className="pyxis-brand">Pyxis</span> Virtual Environment
        </CardTitle>
        <CardBody>
          <Form
            onSubmit={(e) => {
              e.preventDefault();
              void submit();
            }}
            data-testid="login-form"
          >
            {error && <Alert variant="danger" isInline title={error} data-testid="login-error" />}
            {!tfa ? (
              <>
                <FormGroup label="User name" isRequired fieldId="login-user">
                  <TextInput id="login-user" name="username" value={username} onChange={(_e, v) => setUsername(v)} autoFocus={!username} autoComplete="username" isRequired />
                </FormGroup>
                <FormGroup label="Password" isRequired fieldId="login-password">
                  <TextInput id="login-password" name="password" type="password" value={password} onChange={(_e, v) => setPassword(v)} autoFocus={!!username} autoComplete="current-password" isRequired />
                </FormGroup>
                <FormGroup label="Realm" fieldId="login-realm">
                  <FormSelect id="login-realm" name="realm" value={realm} onChange={(_e, v) => setRealm(v)}>
                    {domains.map((d) => (
                      <FormSelectOption key={d.realm} value={d.realm} label={d.comment ? `${d.comment} (${d.realm})` : d.realm} />
                    ))}
                  </FormSelect>
                </FormGroup>
              </>
            ) : (
              <>
                <Alert variant="info" isInline isPlain title={`Second factor required for ${tfa.username}`} />
                <FormGroup label="Method" fieldId="login-tfa-type">
                  <FormSelect id="login-tfa-type" value={tfaType} onChange={(_e, v) => setTfaType(v)}>
                    <FormSelectOption value="totp" label="TOTP app (6-digit code)" />
                    <FormSelectOption value="recovery" label="Recovery key" />
                    <FormSelectOption value="yubico" label="Yubico OTP" />
                  </FormSelect>
                </FormGroup>
                <FormGroup label="Code" isRequired fieldId="login-tfa-code">
                  <TextInput id="login-tfa-code" name="tfa-code" value={code} onChange={(_e, v) => setCode(v)} autoFocus autoComplete="one-time-code" isRequired />
                </FormGroup>
              </>
            )}
            <ActionGroup>
              <Button type="submit" variant="primary" isLoading={busy} isDisabled={busy} data-testid="login-submit">
                {tfa ? 'Verify' : 'Login'}
              </Button>
              {tfa && (
                <Button variant="link" onClick={() => { setTfa(null); setCode(''); }}>
                  Cancel
                </Button>
              )}
            </ActionGroup>
          </Form>
        </CardBody>
      </Card>
    </div>
  );
}
