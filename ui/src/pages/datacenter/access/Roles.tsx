// Roles (/access/roles): built-in roles are read-only (special=1).
import { seg } from '@/api';
import { useSession } from '@/hooks/session';
import { SimpleCrud } from './SimpleCrud';

interface Role {
  roleid: string;
  privs?: string;
  special?: number;
}

export default function Roles() {
  const { can } = useSession();
  return (
    <SimpleCrud<Role>
      noun="role"
      testid="dc-roles"
      path="/access/roles"
      itemPath={(r) => `/access/roles/${seg(r.roleid)}`}
      idOf={(r) => r.roleid}
      columns={[
        { key: 'roleid', title: 'Name', width: 20 },
        { key: 'special', title: 'Built-in', render: (r) => (r.special ? 'Yes' : 'No'), width: 10 },
        { key: 'privs', title: 'Privileges', render: (r) => <span className="pyxis-mono">{(r.privs ?? '').split(',').join(' ')}</span> },
      ]}
      fields={[
        { name: 'roleid', label: 'Name', required: true, isId: true },
        { name: 'privs', label: 'Privileges', helper: 'comma-separated, e.g. VM.Audit,VM.Console' },
      ]}
      mayEdit={can('/access', 'Sys.Modify')}
    />
  );
}
