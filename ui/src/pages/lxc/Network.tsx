// Container network: the netN interfaces as a table (name, bridge, IPs, VLAN,
// firewall), add/edit/remove. Changes on a running container may stay pending.

import { Button, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useState } from 'react';
import { api } from '@/api';
import { ConfirmModal, FormModal } from '@/components/FormModal';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loading } from '@/layout/ContentPanel';
import { useSession } from '@/hooks/session';
import type { TabProps } from '@/registry/registry';
import { buildPropString, freeIndex, isPending, NET_RE, parsePropString } from '../guest/config';
import { useGuestConfig, type GuestConfigState } from '../guest/ConfigTable';
import { CheckF, SelectF, TextF } from '../guest/fields';
import { aclPath, guestPath } from '../guest/paths';

export default function CtNetwork({ obj }: TabProps) {
  const st = useGuestConfig(obj);
  const { can } = useSession();
  const [sel, setSel] = useState<string | null>(null);
  const [dlg, setDlg] = useState<'add' | 'edit' | 'remove' | null>(null);
  if (!st.loaded) return st.error ? <ErrorAlert error={st.error} /> : <Loading />;
  const may = can(aclPath(obj), 'VM.Config.Network');
  const keys = [...new Set([...Object.keys(st.cfg.data ?? {}), ...st.map.keys()])].filter((k) => NET_RE.test(k)).sort();
  return (
    <div data-testid="ct-network">
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem><Button size="sm" isDisabled={!may} onClick={() => setDlg('add')} data-testid="ctnet-add">Add</Button></ToolbarItem>
          <ToolbarItem><Button size="sm" variant="secondary" isDisabled={!may || !sel} onClick={() => setDlg('edit')} data-testid="ctnet-edit">Edit</Button></ToolbarItem>
          <ToolbarItem><Button size="sm" variant="secondary" isDisabled={!may || !sel} onClick={() => setDlg('remove')} data-testid="ctnet-remove">Remove</Button></ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <Table aria-label="Network" variant="compact">
        <Thead>
          <Tr><Th>ID</Th><Th>Name</Th><Th>Bridge</Th><Th>IPv4</Th><Th>Gateway</Th><Th>IPv6</Th><Th>VLAN</Th><Th>Firewall</Th><Th>MAC</Th></Tr>
        </Thead>
        <Tbody>
          {keys.length === 0 && <Tr><Td colSpan={9}>No network devices</Td></Tr>}
          {keys.map((k) => {
            const n = parsePropString(st.eff(k));
            const pend = isPending(st.map.get(k));
            return (
              <Tr key={k} isClickable isRowSelected={sel === k} onRowClick={() => setSel(k)} data-testid={`ctnet-row-${k}`} data-pending={pend ? '1' : undefined}>
                <Td>
                  {k}
                  {pend && (
                    <span style={{ color: 'var(--pf-v5-global--danger-color--100)', fontWeight: 600 }}>{st.map.get(k)?.delete ? ' (delete pending)' : ' (pending)'}</span>
                  )}
                </Td>
                <Td>{n.name}</Td><Td>{n.bridge}</Td><Td>{n.ip}</Td><Td>{n.gw}</Td><Td>{n.ip6}</Td><Td>{n.tag}</Td><Td>{n.firewall === '1' ? 'yes' : ''}</Td>
                <Td className="pyxis-mono">{n.hwaddr}</Td>
              </Tr>
            );
          })}
        </Tbody>
      </Table>
      {(dlg === 'add' || (dlg === 'edit' && sel)) && <NicDialog obj={obj} st={st} edit={dlg === 'edit' ? sel ?? undefined : undefined} onClose={() => setDlg(null)} />}
      {dlg === 'remove' && sel && (
        <ConfirmModal title={`Remove ${sel}`} body={`Remove network device ${sel}?`} isOpen onClose={() => setDlg(null)}
          onDone={() => { setSel(null); st.reload(); }} confirm={() => api.put(guestPath(obj, '/config'), { delete: sel, digest: st.digest })} />
      )}
    </div>
  );
}

function NicDialog({ obj, st, edit, onClose }: TabProps & { st: GuestConfigState; edit?: string; onClose: () => void }) {
  const key = edit ?? `net${Math.max(0, freeIndex(st.cfg.data ?? {}, 'net'))}`;
  const old = edit ? parsePropString(st.eff(edit)) : {};
  const [name, setName] = useState(old.name ?? `eth${key.slice(3)}`);
  const [bridge, setBridge] = useState(old.bridge ?? 'vmbr0');
  const [tag, setTag] = useState(old.tag ?? '');
  const [firewall, setFirewall] = useState(edit ? old.firewall === '1' : true);
  const [mode, setMode] = useState(old.ip === 'dhcp' || !edit ? 'dhcp' : old.ip ? 'static' : 'manual');
  const [ip, setIp] = useState(old.ip && old.ip !== 'dhcp' ? old.ip : '');
  const [gw, setGw] = useState(old.gw ?? '');
  const [mode6, setMode6] = useState(old.ip6 === 'dhcp' || old.ip6 === 'auto' ? old.ip6 : old.ip6 ? 'static' : 'manual');
  const [ip6, setIp6] = useState(old.ip6 && !['dhcp', 'auto'].includes(old.ip6) ? old.ip6 : '');
  const [gw6, setGw6] = useState(old.gw6 ?? '');
  const [mac, setMac] = useState(old.hwaddr ?? '');
  const submit = () => {
    const rest = Object.fromEntries(Object.entries(old).filter(([k]) => !['name', 'bridge', 'tag', 'firewall', 'ip', 'gw', 'ip6', 'gw6', 'hwaddr'].includes(k)));
    const value = buildPropString({
      name, bridge, hwaddr: mac || undefined, tag: tag || undefined, firewall: firewall ? 1 : undefined,
      ip: mode === 'dhcp' ? 'dhcp' : mode === 'static' ? ip : undefined, gw: mode === 'static' ? gw || undefined : undefined,
      ip6: mode6 === 'static' ? ip6 : mode6 === 'manual' ? undefined : mode6, gw6: mode6 === 'static' ? gw6 || undefined : undefined,
      ...rest,
    });
    return api.put(guestPath(obj, '/config'), { [key]: value, digest: st.digest });
  };
  return (
    <FormModal title={edit ? `Edit: ${edit}` : `Add: Network device (${key})`} isOpen onClose={onClose} onDone={st.reload} submit={submit}>
      {(err) => (
        <>
          <TextF id="ctnet-name" param={key} label="Name" value={name} onChange={setName} error={err} />
          <TextF id="ctnet-bridge" param={key} showError={false} label="Bridge" value={bridge} onChange={setBridge} />
          <TextF id="ctnet-mac" param={key} showError={false} label="MAC address" value={mac} onChange={setMac} placeholder="auto" />
          <TextF id="ctnet-tag" param={key} showError={false} label="VLAN tag" value={tag} onChange={setTag} type="number" placeholder="no VLAN" />
          <CheckF id="ctnet-firewall" label="Firewall" checked={firewall} onChange={setFirewall} />
          <SelectF id="ctnet-mode" param={key} showError={false} label="IPv4" value={mode} onChange={setMode} options={[{ value: 'dhcp', label: 'DHCP' }, { value: 'static', label: 'Static' }, { value: 'manual', label: 'Manual (none)' }]} />
          {mode === 'static' && (
            <>
              <TextF id="ctnet-ip" param={key} showError={false} label="IPv4/CIDR" value={ip} onChange={setIp} placeholder="10.0.0.2/24" />
              <TextF id="ctnet-gw" param={key} showError={false} label="Gateway (IPv4)" value={gw} onChange={setGw} />
            </>
          )}
          <SelectF id="ctnet-mode6" param={key} showError={false} label="IPv6" value={mode6} onChange={setMode6} options={[{ value: 'manual', label: 'Manual (none)' }, { value: 'auto', label: 'SLAAC' }, { value: 'dhcp', label: 'DHCP' }, { value: 'static', label: 'Static' }]} />
          {mode6 === 'static' && (
            <>
              <TextF id="ctnet-ip6" param={key} showError={false} label="IPv6/CIDR" value={ip6} onChange={setIp6} />
              <TextF id="ctnet-gw6" param={key} showError={false} label="Gateway (IPv6)" value={gw6} onChange={setGw6} />
            </>
          )}
        </>
      )}
    </FormModal>
  );
}
