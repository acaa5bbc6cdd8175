// Header toolbar of a guest: Start, Shutdown, Reboot, Stop, Suspend/Resume (qemu), and
// a "More" menu with Clone, Convert to template and Destroy. Disruptive actions ask
// first; each action's task is followed and a failure shows its message and log.
// Buttons exist only with the privilege: VM.PowerMgmt, VM.Clone, VM.Allocate.

import { Alert, Button, Dropdown, DropdownItem, DropdownList, MenuToggle, Modal, ModalVariant, Spinner } from '@patternfly/react-core';
import { lazy, Suspense, useState } from 'react';
import { api, followTask, taskOk } from '@/api';
import { ConfirmModal, FormModal } from '@/components/FormModal';
import { TextField } from '@/components/forms';
import { useNavigation } from '@/hooks/navigation';
import { useResources } from '@/hooks/resources';
import { useSession } from '@/hooks/session';
import { useTasks } from '@/hooks/tasks';
import type { TabProps } from '@/registry/registry';
import { aclPath, guestPath } from './paths';
import { TaskOutput, taskFailure, useFollow } from './TaskOutput';

const CloneDialog = lazy(() => import('./Clone'));

type Op = 'start' | 'shutdown' | 'reboot' | 'stop' | 'suspend' | 'resume';

const CONFIRM: Record<Op, string | null> = {
  start: null,
  shutdown: 'Shut down the guest (ACPI / init)?',
  reboot: 'Reboot the guest?',
  stop: 'Stop the guest immediately? Unsaved data in the guest may be lost.',
  suspend: 'Suspend (pause) the guest?',
  resume: null,
};

const LABEL: Record<Op, string> = { start: 'Start', shutdown: 'Shutdown', reboot: 'Reboot', stop: 'Stop', suspend: 'Suspend', resume: 'Resume' };

export function GuestActions({ obj }: TabProps) {
  const { can } = useSession();
  const { reload } = useResources();
  const [confirm, setConfirm] = useState<Op | null>(null);
  const [dialog, setDialog] = useState<'clone' | 'template' | 'destroy' | null>(null);
  const [menu, setMenu] = useState(false);
  const [busy, setBusy] = useState<string | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const f = useFollow();
  const acl = aclPath(obj);
  const power = can(acl, 'VM.PowerMgmt');
  const mayClone = can(acl, 'VM.Clone');
  const mayAllocate = can(acl, 'VM.Allocate');
  if (!power && !mayClone && !mayAllocate) return null;
  const r = obj.resource;
  const running = r?.status === 'running';
  const template = !!r?.template;
  const qemu = obj.kind === 'qemu';
  const kindName = qemu ? 'VM' : 'CT';

  /** Run a task-returning call and follow it; a failure opens the log. */
  const track = async (label: string, call: () => Promise<string>) => {
    setBusy(label);
    setFailed(null);
    try {
      const upid = await call();
      const st = await f.follow(upid);
      const fail = taskFailure(st);
      if (fail) setFailed(`${label} failed: ${fail}`);
    } catch (err) {
      setFailed(`${label} failed: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    } finally {
      setBusy(null);
      reload();
    }
  };
  const run = (op: Op) => api.post<string>(guestPath(obj, `/status/${op}`));
  const click = (op: Op) => (CONFIRM[op] ? setConfirm(op) : void track(LABEL[op], () => run(op)).catch(() => undefined));

  const btn = (op: Op, enabled: boolean, variant: 'secondary' | 'danger' = 'secondary') => (
    <Button key={op} size="sm" variant={variant} isDisabled={!enabled || busy !== null} isLoading={busy === LABEL[op]} onClick={() => click(op)} data-testid={`guest-${op}`}>
      {LABEL[op]}
    </Button>
  );
  return (
    <>
      {busy && <Spinner size="md" aria-label={`${busy} running`} data-testid="guest-busy" />}
      {power && btn('start', !running && !template)}
      {power && btn('shutdown', running)}
      {power && btn('reboot', running)}
      {power && btn('stop', running, 'danger')}
      {(mayClone || mayAllocate || (power && qemu)) && (
        <Dropdown
          isOpen={menu}
          onOpenChange={setMenu}
          onSelect={() => setMenu(false)}
          popperProps={{ position: 'right' }}
          toggle={(ref) => (
            <MenuToggle ref={ref} onClick={() => setMenu(!menu)} isExpanded={menu} data-testid="guest-more">
              More
            </MenuToggle>
          )}
        >
          <DropdownList>
            {power && qemu && (
              <DropdownItem key="suspend" isDisabled={!running || busy !== null} onClick={() => click('suspend')} data-testid="guest-suspend">
                Suspend
              </DropdownItem>
            )}
            {power && qemu && (
              <DropdownItem key="resume" isDisabled={!running || busy !== null} onClick={() => click('resume')} data-testid="guest-resume">
                Resume
              </DropdownItem>
            )}
            {mayClone && (
              <DropdownItem key="clone" onClick={() => setDialog('clone')} isDisabled={busy !== null} data-testid="guest-clone">
                Clone
              </DropdownItem>
            )}
            {mayAllocate && !template && (
              <DropdownItem key="template" onClick={() => setDialog('template')} isDisabled={running || busy !== null} data-testid="guest-template">
                Convert to template
              </DropdownItem>
            )}
            {mayAllocate && (
              <DropdownItem key="destroy" onClick={() => setDialog('destroy')} isDisabled={running || busy !== null} data-testid="guest-destroy">
                Remove
              </DropdownItem>
            )}
          </DropdownList>
        </Dropdown>
      )}
      {confirm && (
        <ConfirmModal
          title={`${LABEL[confirm]} ${kindName} ${obj.vmid}`}
          body={CONFIRM[confirm]}
          isOpen
          onClose={() => setConfirm(null)}
          confirm={async () => {
            const op = confirm;
            void track(LABEL[op], () => run(op)).catch(() => undefined);
          }}
        />
      )}
      {dialog === 'template' && (
        <ConfirmModal
          title={`Convert ${kindName} ${obj.vmid} to a template`}
          body="A template cannot be started; it can be cloned (linked clones where the storage can). Continue?"
          isOpen
          onClose={() => setDialog(null)}
          confirm={async () => void track('Convert to template', () => api.post<string>(guestPath(obj, '/template'))).catch(() => undefined)}
        />
      )}
      {dialog === 'destroy' && <DestroyDialog obj={obj} onClose={() => setDialog(null)} />}
      {dialog === 'clone' && (
        <Suspense fallback={null}>
          <CloneDialog obj={obj} onClose={() => setDialog(null)} />
        </Suspense>
      )}
      {failed && (
        <Modal variant={ModalVariant.medium} title="Task failed" isOpen onClose={() => setFailed(null)} data-testid="guest-task-failed">
          <Alert variant="danger" isInline title={failed} />
          <TaskOutput f={f} />
        </Modal>
      )}
    </>
  );
}

/**
 * Remove: type the ID to confirm. The guest's page goes away with it, so the node is
 * selected at once; the task is followed from here (a failure opens its log viewer).
 */
function DestroyDialog({ obj, onClose }: TabProps & { onClose: () => void }) {
  const [typed, setTyped] = useState('');
  const tasks = useTasks();
  const { navigate } = useNavigation();
  return (
    <FormModal
      title={`Remove ${obj.kind === 'qemu' ? 'VM' : 'CT'} ${obj.vmid}`}
      submitLabel="Remove"
      isOpen
      onClose={onClose}
      submitDisabled={typed !== String(obj.vmid)}
      submit={async () => {
        const upid = await api.del<string>(guestPath(obj), { purge: 1, 'destroy-unreferenced-disks': 1 });
        tasks.started(upid);
        void followTask(upid)
          .then((st) => {
            tasks.started(upid);
            if (!taskOk(st)) tasks.openTask(upid);
          })
          .catch(() => undefined);
        navigate(`node/${obj.node}`);
      }}
    >
      {(err) => (
        <>
          <div>This removes the guest and all its disks. Type the ID to confirm.</div>
          <TextField label="ID" name="confirm-vmid" value={typed} onChange={setTyped} error={err} />
        </>
      )}
    </FormModal>
  );
}
