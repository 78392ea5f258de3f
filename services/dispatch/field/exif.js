// The capture time of a photo, carried over into its shrunk copy. A canvas re-encode drops all EXIF (GPS too,
// which is what we want), but the server flags a photo that does not show when it was taken (照片时间存疑): so the
// shrunk JPEG gets a minimal EXIF of our own with only DateTimeOriginal and OffsetTimeOriginal.

const SOI = 0xffd8;
const APP1 = 0xffe1;

// { dateTime: 'YYYY:MM:DD HH:MM:SS', offset: '+08:00' | null } from the photo's own EXIF, else from the file's
// time (a photo just taken with the camera is a file written at that moment).
export async function captureTime(file) {
  try {
    const found = readExifTime(new DataView(await file.slice(0, 256 * 1024).arrayBuffer()));
    if (found) return found;
  } catch {
    // not a JPEG, or a damaged header: fall back to the file's time
  }
  return fromDate(new Date(file.lastModified || Date.now()));
}

export function fromDate(date) {
  const p = (n) => String(n).padStart(2, '0');
  const minutes = -date.getTimezoneOffset();
  const sign = minutes >= 0 ? '+' : '-';
  const abs = Math.abs(minutes);
  return {
    dateTime: `${date.getFullYear()}:${p(date.getMonth() + 1)}:${p(date.getDate())} ${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}`,
    offset: `${sign}${p(Math.floor(abs / 60))}:${p(abs % 60)}`,
  };
}

function readExifTime(view) {
  if (view.getUint16(0) !== SOI) return null;
  let at = 2;
  while (at + 4 <= view.byteLength) {
    const marker = view.getUint16(at);
    const length = view.getUint16(at + 2);
    if ((marker & 0xff00) !== 0xff00 || marker === 0xffda) return null; // start of scan: no EXIF before it
    if (marker === APP1 && ascii(view, at + 4, 6) === 'Exif\0\0') return readTiff(view, at + 10);
    at += 2 + length;
  }
  return null;
}

function readTiff(view, tiff) {
  const little = view.getUint16(tiff) === 0x4949;
  const u16 = (o) => view.getUint16(tiff + o, little);
  const u32 = (o) => view.getUint32(tiff + o, little);
  const entries = (ifd) => {
    const out = new Map();
    const n = u16(ifd);
    for (let i = 0; i < n; i++) {
      const e = ifd + 2 + i * 12;
      out.set(u16(e), { type: u16(e + 2), count: u32(e + 4), value: e + 8 });
    }
    return out;
  };
  const text = (entry) => {
    if (!entry || entry.type !== 2) return null;
    const where = entry.count > 4 ? u32(entry.value) : entry.value;
    return ascii(view, tiff + where, entry.count).replace(/\0.*$/, '');
  };
  const pointer = entries(u32(4)).get(0x8769);
  if (!pointer) return null;
  const exif = entries(u32(pointer.value));
  const dateTime = text(exif.get(0x9003));
  if (!dateTime || !/^\d{4}:\d\d:\d\d \d\d:\d\d:\d\d$/.test(dateTime)) return null;
  const offset = text(exif.get(0x9011));
  return { dateTime, offset: offset && /^[+-]\d\d:\d\d$/.test(offset) ? offset : null };
}

function ascii(view, at, length) {
  let s = '';
  for (let i = 0; i < length && at + i < view.byteLength; i++) s += String.fromCharCode(view.getUint8(at + i));
  return s;
}

// The JPEG `blob` with an APP1 segment holding only the capture time (big-endian TIFF: IFD0 → Exif IFD →
// DateTimeOriginal, OffsetTimeOriginal), placed after the JFIF header a canvas writes.
export async function withCaptureTime(blob, { dateTime, offset }) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  const zone = offset || fromDate(new Date()).offset; // a camera without a zone wrote the phone's local time
  const tiff = new DataView(new ArrayBuffer(8 + 18 + 30 + 20 + 7));
  const entry = (at, tag, type, count, value) => {
    tiff.setUint16(at, tag);
    tiff.setUint16(at + 2, type);
    tiff.setUint32(at + 4, count);
    tiff.setUint32(at + 8, value);
  };
  tiff.setUint16(0, 0x4d4d); // "MM": big-endian
  tiff.setUint16(2, 42);
  tiff.setUint32(4, 8); // IFD0
  tiff.setUint16(8, 1);
  entry(10, 0x8769, 4, 1, 26); // Exif IFD pointer
  tiff.setUint32(22, 0);
  tiff.setUint16(26, 2);
  entry(28, 0x9003, 2, 20, 56); // DateTimeOriginal
  entry(40, 0x9011, 2, 7, 76); // OffsetTimeOriginal
  tiff.setUint32(52, 0);
  const text = `${dateTime}\0${zone}\0`;
  for (let i = 0; i < text.length; i++) tiff.setUint8(56 + i, text.charCodeAt(i));
  const payload = new Uint8Array(6 + tiff.byteLength);
  payload.set([0x45, 0x78, 0x69, 0x66, 0, 0]); // "Exif\0\0"
  payload.set(new Uint8Array(tiff.buffer), 6);
  const segment = new Uint8Array(4 + payload.length);
  segment.set([0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]);
  segment.set(payload, 4);
  // after SOI and, if present, the JFIF APP0 segment
  let at = 2;
  if (bytes[2] === 0xff && bytes[3] === 0xe0) at = 4 + ((bytes[4] << 8) | bytes[5]);
  return new Blob([bytes.subarray(0, at), segment, bytes.subarray(at)], { type: 'image/jpeg' });
}
