// Photos: shrunk on the phone to at most 1600 px JPEG (canvas) when taken, kept as Blobs in the outbox, and
// uploaded only when the action is sent — a presigned POST granted at that moment by the service that will
// receive the action (grants expire in minutes), straight to S3. The action then names the photo's key.

import { ApiError, request } from './api.js';
import { captureTime, withCaptureTime } from './exif.js';
import { h, fill, notice } from './dom.js';
import { TEXT } from './labels.js';

export const MAX_PX = 1600;
const QUALITY = 0.82;

export async function shrink(file) {
  const taken = await captureTime(file);
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    throw new Error('无法读取该照片，请重新拍摄或选择 JPEG/PNG 照片');
  }
  const scale = Math.min(1, MAX_PX / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  canvas.getContext('2d').drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', QUALITY));
  if (!blob) throw new Error('照片压缩失败，请重试');
  return withCaptureTime(blob, taken); // the canvas dropped the EXIF: keep when it was taken, nothing else
}

// One photo to S3 through a fresh grant of `service`; resolves to the key the action names.
export async function upload(service, blob) {
  const grant = await request(service, 'POST', '/v1/photos/uploads', { content_type: 'image/jpeg' });
  if (grant.max_bytes && blob.size > grant.max_bytes) {
    throw new ApiError(413, `照片过大（${Math.ceil(blob.size / 1024)} KB），请重新拍摄`, 'photo_too_large');
  }
  const form = new FormData();
  for (const [name, value] of Object.entries(grant.fields || {})) form.append(name, value);
  form.append('file', blob, 'photo.jpg'); // last: S3 ignores fields after the file
  let r;
  try {
    r = await fetch(grant.url, { method: 'POST', body: form, credentials: 'omit', cache: 'no-store' });
  } catch {
    throw new ApiError(0, '照片上传失败：网络异常，稍后自动重试', 'network');
  }
  // Any refusal by S3 itself (an expired or rejected grant) is worth a new grant later, not a parked action.
  if (!r.ok) throw new ApiError(503, `照片存储暂不可用（${r.status}），稍后自动重试`, 'photo_store_unavailable');
  return grant.key;
}

// A photo picker: camera or gallery, each photo shrunk at once and shown as a thumbnail that can be removed.
// `initial`: Blobs already chosen (editing a refused action).
export function photoPicker({ label = TEXT.photos, initial = [], max = 10 } = {}) {
  const blobs = [...initial];
  const thumbs = h('div', { class: 'thumbs' });
  const line = h('p', { class: 'notice', hidden: true });
  let busy = Promise.resolve();
  const input = h('input', {
    type: 'file',
    accept: 'image/*',
    capture: 'environment',
    multiple: true,
    class: 'file',
    name: 'photo',
    onchange: () => {
      const files = [...input.files];
      input.value = '';
      busy = busy.then(async () => {
        notice(line, 'info', TEXT.shrinking);
        try {
          for (const file of files) {
            if (blobs.length >= max) break;
            blobs.push(await shrink(file));
          }
          notice(line, 'info', '');
        } catch (err) {
          notice(line, 'error', err.message);
        }
        render();
      });
    },
  });
  function render() {
    for (const img of thumbs.querySelectorAll('img')) URL.revokeObjectURL(img.src);
    fill(
      thumbs,
      blobs.map((blob, i) =>
        h(
          'figure',
          { class: 'thumb' },
          h('img', { src: URL.createObjectURL(blob), alt: `照片${i + 1}` }),
          h(
            'button',
            {
              type: 'button',
              class: 'remove',
              'aria-label': `删除照片${i + 1}`,
              onclick: () => {
                blobs.splice(i, 1);
                render();
              },
            },
            '×',
          ),
        ),
      ),
    );
  }
  render();
  const el = h(
    'div',
    { class: 'field photos' },
    h('span', { class: 'field-label' }, label),
    thumbs,
    h('label', { class: 'button photo-button' }, TEXT.addPhoto, input),
    line,
  );
  return {
    el,
    async blobs() {
      await busy;
      return [...blobs];
    },
  };
}
