import { TaskList } from '@/components/TaskList';

export default function DatacenterTasks() {
  return <TaskList path="/cluster/tasks" filters={false} />;
}
