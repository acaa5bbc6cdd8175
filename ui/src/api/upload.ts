// File upload with progress: POST /nodes/{node}/storage/{storage}/upload as multipart.
// fetch() has no upload progress events, so this one call uses XMLHttpRequest.

import { API_BASE, ApiError, getCsrfToken, seg } from './client';

export interface UploadRequest {
  node: string;
  storage: string;
  content: 'iso' | 'vztmpl' | 'import';
  file: File;
  filename?: string;
  checksum?: string;
  checksumAlgorithm?: string;
}

export interface UploadHandle {
  /** resolves with the UPID of the task that moves the file into place */
  done: Promise<string>;
  abort: () => void;
}

export function uploadFile(req: UploadRequest, onProgress: (fraction: number) => void): UploadHandle {
  const xhr = new XMLHttpRequest();
  const done = new Promise<string>((resolve, reject) => {
    const form = new FormData();
    form.append('content', req.content);
    if (req.checksum && req.checksumAlgorithm) {
      form.append('checksum', req.checksum);
      form.append('checksum-algorithm', req.checksumAlgorithm);
    }
    // the file goes last: upstream reads the parameters before the (large) body
    form.append('filename', req.file, req.filename ?? req.file.name);
    xhr.open('POST', `${API_BASE}/nodes/${seg(req.node)}/storage/${seg(req.storage)}/upload`);
    const csrf = getCsrfToken();
    if (csrf) xhr.setRequestHeader('CSRFPreventionToken', csrf);
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable) onProgress(ev.loaded / ev.total);
    };
    xhr.onload = () => {
      let payload: { data?: string; message?: string; errors?: Record<string, string> } = {};
      try {
        payload = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(String(payload.data ?? ''));
      } else {
        reject(new ApiError(xhr.status, (payload.message ?? xhr.statusText ?? 'upload failed').trim(), payload.errors ?? {}));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'upload failed: connection error'));
    xhr.onabort = () => reject(new ApiError(0, 'upload aborted'));
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}
