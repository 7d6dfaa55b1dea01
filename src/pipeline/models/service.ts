/** ONNX model store and runtime used by the stages. Filled in by the models subsystem (issue #4). */
export interface ModelService {
  readonly kind: 'models';
}
