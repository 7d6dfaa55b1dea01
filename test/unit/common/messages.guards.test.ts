import assert from 'node:assert/strict';
import { isHostToRendererMessage, isRendererToHostMessage } from '../../../src/common/messages';

suite('renderer <-> host message guards', () => {
  test('renderer -> host: readArtifact needs a request id, openArtifact a ref; anything else is refused', () => {
    assert.ok(isRendererToHostMessage({ type: 'readArtifact', requestId: 'r1', ref: 'artifacts/a.jpg' }));
    assert.ok(isRendererToHostMessage({ type: 'openArtifact', ref: 'sweep/matrix.csv' }));
    assert.ok(isRendererToHostMessage({ type: 'openArtifact', ref: 'sweep/matrix.csv', notebookUri: 'file:///a.alref' }));
    assert.ok(!isRendererToHostMessage({ type: 'readArtifact', ref: 'artifacts/a.jpg' }));
    assert.ok(!isRendererToHostMessage({ type: 'openArtifact' }));
    assert.ok(!isRendererToHostMessage({ type: 'openArtifact', ref: 3 }));
    assert.ok(!isRendererToHostMessage({ type: 'openArtifact', ref: 'x.csv', notebookUri: 1 }));
    assert.ok(!isRendererToHostMessage({ type: 'runCommand', ref: 'x' }));
    assert.ok(!isRendererToHostMessage(null));
  });

  test('host -> renderer: artifact replies, ok with bytes or failed with an error', () => {
    assert.ok(isHostToRendererMessage({ type: 'artifact', requestId: 'r', ref: 'a', ok: true, base64: '', mime: 'image/jpeg' }));
    assert.ok(isHostToRendererMessage({ type: 'artifact', requestId: 'r', ref: 'a', ok: false, error: 'no' }));
    assert.ok(!isHostToRendererMessage({ type: 'artifact', requestId: 'r', ref: 'a', ok: true }));
  });
});
