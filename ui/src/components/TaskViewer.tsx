// The task log viewer: a modal that streams /tasks/{upid}/log while the task runs,
// shows its status and progress, and can stop it.

import { Button, Label, Modal, ModalVariant, Progress, Tab, Tabs, TabTitleText } from '@patternfly/react-core';
import { useEffect, useRef, useState } from 'react';
import { followTask, parseUpid, progressFromLog, stopTask, taskOk, type TaskLogLine, type TaskStatus } from '@/api';
import { ErrorAlert } from './ErrorAlert';
import { formatTime } from './format';

export function TaskStatusLabel({ status }: { status?: string }) {
  if (!status) return <Label color="blue">running</Label>;
  if (status === 'OK') return <Label color="green">OK</Label>;
  if (status.startsWith('WARNINGS')) return <Label color="orange">{status}</Label>;
  return <Label color="red">{status}</Label>;
}

export function TaskViewer({ upid, onClose }: { upid: string; onClose: () => void }) {
  const [lines, setLines] = useState<TaskLogLine[]>([]);
  const [status, setStatus] = useState<TaskStatus | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [tab, setTab] = useState<string | number>('log');
  const logRef = useRef<HTMLPreElement>(null);
  const info = parseUpid(upid);

  useEffect(() => {
    const ctl = new AbortController();
    setLines([]);
    followTask(upid, { onLog: (l) => setLines((prev) => [...prev, ...l]), onStatus: setStatus }, ctl.signal).catch(
      (err: unknown) => {
        if (!(err instanceof DOMException)) setError(err);
      },
    );
    return () => ctl.abort();
  }, [upid]);

  useEffect(() => {
    const el = logRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [lines]);

  const running = !status || status.status === 'running';
  const progress = progressFromLog(lines);
  return (
    <Modal
      variant={ModalVariant.large}
      title={`Task: ${info ? `${info.type} ${info.id}` : upid}`}
      isOpen
      onClose={onClose}
      data-testid="task-viewer"
      actions={[
        <Button key="stop" variant="danger" isDisabled={!running} onClick={() => stopTask(upid).catch(setError)}>
          Stop
        </Button>,
        <Button key="close" variant="link" onClick={onClose}>
          Close
        </Button>,
      ]}
    >
      <ErrorAlert error={error} />
      {running && progress !== null && <Progress value={progress * 100} title="Progress" size="sm" />}
      <Tabs activeKey={tab} onSelect={(_e, k) => setTab(k)} isBox>
        <Tab eventKey="log" title={<TabTitleText>Output</TabTitleText>}>
          <pre ref={logRef} className="pyxis-tasklog" data-testid="task-log">
            {lines.map((l) => l.t).join('\n')}
          </pre>
        </Tab>
        <Tab eventKey="status" title={<TabTitleText>Status</TabTitleText>}>
          <table className="pyxis-kv">
            <tbody>
              <tr><th>Status</th><td>{status?.status ?? '-'}</td></tr>
              <tr><th>Exit status</th><td>{status?.exitstatus ? <TaskStatusLabel status={status.exitstatus} /> : '-'}</td></tr>
              <tr><th>Result</th><td>{status && !running ? (taskOk(status) ? 'success' : 'failed') : '-'}</td></tr>
              <tr><th>Type</th><td>{info?.type}</td></tr>
              <tr><th>ID</th><td>{info?.id || '-'}</td></tr>
              <tr><th>User</th><td>{info?.user}</td></tr>
              <tr><th>Node</th><td>{info?.node}</td></tr>
              <tr><th>Start time</th><td>{formatTime(info?.starttime)}</td></tr>
              <tr><th>UPID</th><td className="pyxis-mono">{upid}</td></tr>
            </tbody>
          </table>
        </Tab>
      </Tabs>
    </Modal>
  );
}
