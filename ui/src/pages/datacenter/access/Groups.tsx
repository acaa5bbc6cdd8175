// Groups (/access/groups).
import { seg } from '@/api';
import { useSession } from '@/hooks/session';
import { SimpleCrud } from './SimpleCrud';

interface Group {
  groupid: string;
  comment?: string;
  users?: string;
}

export default function Groups() {
  const { canAny } = useSession();
  return (
    <SimpleCrud<Group>
      noun="group"
      testid="dc-groups"
      path="/access/groups"
      itemPath={(g) => `/access/groups/${seg(g.groupid)}`}
      idOf={(g) => g.groupid}
      columns={[
        { key: 'groupid', title: 'Name' },
        { key: 'users', title: 'Users' },
        { key: 'comment', title: 'Comment' },
      ]}
      fields={[
        { name: 'groupid', label: 'Name', required: true, isId: true },
        { name: 'comment', label: 'Comment' },
      ]}
      mayEdit={canAny('Group.Allocate')}
    />
  );
}
