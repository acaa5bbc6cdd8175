import { seg } from '@/api';
import { TaskList } from '@/components/TaskList';
import type { TabProps } from '@/registry/registry';

export default function NodeTasks({ obj }: TabProps) {
  return <TaskList path={`/nodes/${seg(obj.node ?? '')}/tasks`} params={{ source: 'all' }} />;
}
