/**
 * A small ONNX graph builder for test fixtures: writes ModelProto bytes with protobufjs (onnx-proto),
 * so tests can create tiny graphs with the exact input/output names, dtypes and ranks of real models
 * without Python. Opset 17 (Reduce* ops take `axes` as an attribute there).
 */
import { onnx } from 'onnx-proto';

export type DType = 'float32' | 'float16' | 'int64' | 'int32' | 'bool';

const DTYPE: Record<DType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** Wraps a number so that it becomes a FLOAT attribute (plain integers become INT attributes). */
export class F {
  constructor(readonly value: number) {}
}
export function f(value: number): F {
  return new F(value);
}

type AttrValue = number | F | number[] | F[] | string;

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') {
    return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  }
  if (v instanceof F) {
    return { name, type: T.FLOAT, f: v.value };
  }
  if (Array.isArray(v)) {
    if (v.length > 0 && v[0] instanceof F) {
      return { name, type: T.FLOATS, floats: (v as F[]).map((x) => x.value) };
    }
    return { name, type: T.INTS, ints: v as number[] };
  }
  return { name, type: T.INT, i: v };
}

function tensorBytes(values: ArrayLike<number>, type: DType): Uint8Array {
  switch (type) {
    case 'float32':
      return new Uint8Array(Float32Array.from(values).buffer);
    case 'float16':
      throw new Error('float16 constants are not supported; cast a float32 constant instead.');
    case 'int64':
      return new Uint8Array(BigInt64Array.from(Array.from(values, (x) => BigInt(Math.trunc(x)))).buffer);
    case 'int32':
      return new Uint8Array(Int32Array.from(values).buffer);
    case 'bool':
      return Uint8Array.from(values, (x) => (x ? 1 : 0));
  }
}

function valueInfo(name: string, type: DType, dims: Array<number | string>): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DTYPE[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export class OnnxGraphBuilder {
  private readonly _nodes: onnx.INodeProto[] = [];
  private readonly _inits: onnx.ITensorProto[] = [];
  private readonly _inputs: onnx.IValueInfoProto[] = [];
  private readonly _outputs: onnx.IValueInfoProto[] = [];
  private _n = 0;

  constructor(private readonly _name: string) {}

  input(name: string, type: DType, dims: Array<number | string>): string {
    this._inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Declares a graph output and routes `from` into it through an Identity node. */
  output(name: string, from: string, type: DType, dims: Array<number | string>): void {
    this._nodes.push({ opType: 'Identity', input: [from], output: [name], name: `out_${name}` });
    this._outputs.push(valueInfo(name, type, dims));
  }

  /** A constant tensor (initializer). `dims` [] makes a scalar. */
  const(values: ArrayLike<number>, dims: number[], type: DType = 'float32'): string {
    const name = `c${this._n++}`;
    this._inits.push({ name, dims, dataType: DTYPE[type], rawData: tensorBytes(values, type) });
    return name;
  }

  scalar(value: number, type: DType = 'float32'): string {
    return this.const([value], [], type);
  }

  i64(values: number[]): string {
    return this.const(values, [values.length], 'int64');
  }

  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    const out = `t${this._n++}`;
    this._nodes.push({
      opType,
      input: inputs,
      output: [out],
      name: `n${this._n++}_${opType}`,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  build(opset = 17): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'alref-test-fixtures',
      opsetImport: [{ domain: '', version: opset }],
      graph: {
        name: this._name,
        node: this._nodes,
        initializer: this._inits,
        input: this._inputs,
        output: this._outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
