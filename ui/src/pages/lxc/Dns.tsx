// Container DNS: hostname, DNS domain, DNS servers (empty: the host's settings).

import type { TabProps } from '@/registry/registry';
import { OptionsView, orDefault, type OptionDef } from '../guest/OptionsView';

const DEFS: OptionDef[] = [
  { key: 'hostname', label: 'Hostname', priv: 'VM.Config.Network', show: orDefault('CT<vmid>'), fields: [{ key: 'hostname', label: 'Hostname', kind: 'text' }] },
  { key: 'searchdomain', label: 'DNS domain', priv: 'VM.Config.Network', show: orDefault('use host settings'), fields: [{ key: 'searchdomain', label: 'DNS domain', kind: 'text', placeholder: 'use host settings' }] },
  { key: 'nameserver', label: 'DNS servers', priv: 'VM.Config.Network', show: orDefault('use host settings'), fields: [{ key: 'nameserver', label: 'DNS servers', kind: 'text', placeholder: 'use host settings', helper: 'space-separated' }] },
];

export default function CtDns({ obj }: TabProps) {
  return <OptionsView obj={obj} defs={DEFS} testPrefix="dns" />;
}
