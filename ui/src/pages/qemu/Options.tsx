// VM options: name, start at boot, startup order, OS type, boot order, tablet,
// hotplug, ACPI, KVM, local time, guest agent, protection, description, tags.

import { Button } from '@patternfly/react-core';
import { ArrowDownIcon, ArrowUpIcon } from '@patternfly/react-icons';
import { useState } from 'react';
import { api } from '@/api';
import { FormModal } from '@/components/FormModal';
import type { TabProps } from '@/registry/registry';
import { DISK_RE, NET_RE, parsePropString } from '../guest/config';
import type { GuestConfigState } from '../guest/ConfigTable';
import { CheckF } from '../guest/fields';
import { OptionsView, orDefault, yesNo, type OptionDef } from '../guest/OptionsView';
import { guestPath } from '../guest/paths';
import { OSTYPES } from './CreateVm';

const O = 'VM.Config.Options';
const HW = 'VM.Config.HWType';

function BootOrder({ obj, st, onClose }: TabProps & { st: GuestConfigState; onClose: () => void }) {
  const cfg = st.cfg.data ?? {};
  const devices = Object.keys(cfg).filter((k) => (DISK_RE.test(k) && !/^(unused|efidisk|tpmstate)/.test(k)) || NET_RE.test(k));
  const current = (parsePropString(st.eff('boot')).order ?? '').split(';').filter(Boolean);
  const init = [...current.filter((d) => devices.includes(d)), ...devices.filter((d) => !current.includes(d)).sort()];
  const [list, setList] = useState(init);
  const [on, setOn] = useState<Set<string>>(new Set(current));
  const move = (i: number, d: number) => {
    const l = [...list];
    [l[i], l[i + d]] = [l[i + d], l[i]];
    setList(l);
  };
  return (
    <FormModal title="Edit: Boot order" isOpen onClose={onClose} onDone={st.reload}
      submit={() => api.put(guestPath(obj, '/config'), { boot: `order=${list.filter((d) => on.has(d)).join(';')}`, digest: st.digest })}>
      {() => (
        <table className="pyxis-kv" data-testid="boot-order">
          <tbody>
            {list.map((d, i) => (
              <tr key={d}>
                <td>
                  <CheckF id={`boot-${d}`} label={`${d}: ${String(cfg[d]).slice(0, 48)}`} checked={on.has(d)}
                    onChange={(c) => setOn((s) => { const n = new Set(s); if (c) n.add(d); else n.delete(d); return n; })} />
                </td>
                <td style={{ whiteSpace: 'nowrap' }}>
                  <Button variant="plain" aria-label="up" isDisabled={i === 0} onClick={() => move(i, -1)}><ArrowUpIcon /></Button>
                  <Button variant="plain" aria-label="down" isDisabled={i === list.length - 1} onClick={() => move(i, 1)}><ArrowDownIcon /></Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </FormModal>
  );
}

const DEFS: OptionDef[] = [
  { key: 'name', label: 'Name', priv: O, fields: [{ key: 'name', label: 'Name', kind: 'text' }] },
  { key: 'onboot', label: 'Start at boot', priv: O, show: yesNo(false), fields: [{ key: 'onboot', label: 'Start at boot', kind: 'bool' }] },
  { key: 'startup', label: 'Start/Shutdown order', priv: O, show: orDefault('order=any'), fields: [{ key: 'startup', label: 'Startup', kind: 'text', placeholder: 'order=1,up=30,down=60' }] },
  { key: 'ostype', label: 'OS type', priv: O, show: orDefault('other'), fields: [{ key: 'ostype', label: 'OS type', kind: 'select', options: [{ value: '', label: 'Default (other)' }, ...OSTYPES] }] },
  { key: 'boot', label: 'Boot order', priv: O, fields: [], editor: (p) => <BootOrder {...p} /> },
  { key: 'tablet', label: 'Use tablet for pointer', priv: HW, show: yesNo(true), fields: [{ key: 'tablet', label: 'Use tablet for pointer', kind: 'bool', boolDefault: true }] },
  { key: 'hotplug', label: 'Hotplug', priv: HW, show: orDefault('network,disk,usb'), fields: [{ key: 'hotplug', label: 'Hotplug', kind: 'text', placeholder: 'network,disk,usb', helper: 'comma-separated: network, disk, cpu, memory, usb; 0 disables' }] },
  { key: 'acpi', label: 'ACPI support', priv: HW, show: yesNo(true), fields: [{ key: 'acpi', label: 'ACPI support', kind: 'bool', boolDefault: true }] },
  { key: 'kvm', label: 'KVM hardware virtualization', priv: HW, show: yesNo(true), fields: [{ key: 'kvm', label: 'KVM hardware virtualization', kind: 'bool', boolDefault: true }] },
  { key: 'localtime', label: 'Use local time for RTC', priv: HW, show: orDefault('auto'), fields: [{ key: 'localtime', label: 'Use local time for RTC', kind: 'bool' }] },
  { key: 'agent', label: 'QEMU guest agent', priv: O, show: orDefault('disabled'), fields: [{ key: 'agent', label: 'QEMU guest agent', kind: 'select', options: [{ value: '', label: 'Default (disabled)' }, { value: '1', label: 'Enabled' }, { value: '0', label: 'Disabled' }] }] },
  { key: 'protection', label: 'Protection', priv: O, show: yesNo(false), fields: [{ key: 'protection', label: 'Protection (no removal, no disk removal)', kind: 'bool' }] },
  { key: 'tags', label: 'Tags', priv: O, fields: [{ key: 'tags', label: 'Tags', kind: 'text', helper: 'separated by ; or ,' }] },
  { key: 'description', label: 'Notes', priv: O, fields: [{ key: 'description', label: 'Notes', kind: 'area' }] },
];

export default function VmOptions({ obj }: TabProps) {
  return <OptionsView obj={obj} defs={DEFS} testPrefix="opt" />;
}
