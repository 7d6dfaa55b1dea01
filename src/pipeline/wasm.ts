/**
 * A hand-written WebAssembly module (assembled from its `.wat` by tools/gen-wasm.ts and carried as
 * base64), instantiated on first use, one instance per thread, with a memory that grows on demand and
 * is reused from call to call.
 */
export class WasmKernels<T> {
  private _exports?: T & { memory: WebAssembly.Memory };

  constructor(private readonly base64: string) {}

  /** The module's exports (compiled and instantiated on the first call). */
  get exports(): T & { memory: WebAssembly.Memory } {
    if (!this._exports) {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(this.base64, 'base64')), {});
      this._exports = instance.exports as unknown as T & { memory: WebAssembly.Memory };
    }
    return this._exports;
  }

  /** The module's memory, grown to at least `bytes`. Views taken before a call that grows it are detached. */
  memory(bytes: number): ArrayBuffer {
    const mem = this.exports.memory;
    const have = mem.buffer.byteLength;
    if (have < bytes) {
      mem.grow(Math.ceil((bytes - have) / 65536));
    }
    return mem.buffer;
  }
}

/** Offsets of blocks in a module's memory: 16-byte aligned, each followed by 16 bytes of padding. */
export class WasmLayout {
  size = 0;

  /** Reserves `bytes`; their offset. */
  take(bytes: number): number {
    const at = this.size;
    this.size += Math.ceil(bytes / 16) * 16 + 16;
    return at;
  }
}
