// Container options: start at boot, startup order, OS type, architecture, console
// mode, TTYs, protection, features, description, tags. `unprivileged` is shown only
// (it cannot change after create).

import type { TabProps } from '@/registry/registry';
import { OptionsView, orDefault, yesNo, type OptionDef } from '../guest/OptionsView';

const O = 'VM.Config.Options';

const DEFS: OptionDef[] = [
  { key: 'onboot', label: 'Start at boot', priv: O, show: yesNo(false), fields: [{ key: 'onboot', label: 'Start at boot', kind: 'bool' }] },
  { key: 'startup', label: 'Start/Shutdown order', priv: O, show: orDefault('order=any'), fields: [{ key: 'startup', label: 'Startup', kind: 'text', placeholder: 'order=1,up=30,down=60' }] },
  { key: 'ostype', label: 'OS type', priv: O, fields: [{ key: 'ostype', label: 'OS type', kind: 'select', options: [{ value: '', label: 'Detect' }, 'debian', 'ubuntu', 'centos', 'fedora', 'alpine', 'archlinux', 'opensuse', 'gentoo', 'nixos', 'unmanaged'] }] },
  { key: 'arch', label: 'Architecture', priv: O, show: orDefault('amd64'), fields: [{ key: 'arch', label: 'Architecture', kind: 'select', options: [{ value: '', label: 'Default (amd64)' }, 'amd64', 'i386', 'arm64', 'armhf'] }] },
  { key: 'cmode', label: 'Console mode', priv: O, show: orDefault('tty'), fields: [{ key: 'cmode', label: 'Console mode', kind: 'select', options: [{ value: '', label: 'Default (tty)' }, 'tty', 'console', 'shell'] }] },
  { key: 'tty', label: 'TTY count', priv: O, show: orDefault('2'), fields: [{ key: 'tty', label: 'TTY count', kind: 'number', placeholder: '2' }] },
  { key: 'unprivileged', label: 'Unprivileged container', priv: 'Sys.Modify', show: yesNo(false), fields: [] },
  { key: 'protection', label: 'Protection', priv: O, show: yesNo(false), fields: [{ key: 'protection', label: 'Protection (no removal)', kind: 'bool' }] },
  { key: 'features', label: 'Features', priv: O, fields: [{ key: 'features', label: 'Features', kind: 'text', placeholder: 'nesting=1,keyctl=1' }] },
  { key: 'tags', label: 'Tags', priv: O, fields: [{ key: 'tags', label: 'Tags', kind: 'text' }] },
  { key: 'description', label: 'Notes', priv: O, fields: [{ key: 'description', label: 'Notes', kind: 'area' }] },
];

export default function CtOptions({ obj }: TabProps) {
  return <OptionsView obj={obj} defs={DEFS.map((d) => (d.key === 'unprivileged' ? { ...d, priv: '__none__' } : d))} testPrefix="ctopt" />;
}
