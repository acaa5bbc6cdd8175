// Resource pools (/pools).
import { seg } from '@/api';
import { useSession } from '@/hooks/session';
import { SimpleCrud } from './SimpleCrud';

interface Pool {
  poolid: string;
  comment?: string;
}

export default function Pools() {
  const { canAny } = useSession();
  return (
    <SimpleCrud<Pool>
      noun="pool"
      testid="dc-pools"
      path="/pools"
      itemPath={(p) => `/pools/${seg(p.poolid)}`}
      idOf={(p) => p.poolid}
      columns={[
        { key: 'poolid', title: 'Name' },
        { key: 'comment', title: 'Comment' },
      ]}
      fields={[
        { name: 'poolid', label: 'Name', required: true, isId: true },
        { name: 'comment', label: 'Comment' },
      ]}
      mayEdit={canAny('Pool.Allocate')}
    />
  );
}
