/**
 * Re-records the LLM exchanges shipped with `examples/demo.alref` (in `examples/demo.alref.runs/exchanges/`).
 *
 * No real GPT is reachable where this project is built, so the replies below were AUTHORED BY HAND for
 * the demo, by looking at the actual frame grids of the bundled clip (a woman playing ball with a dog
 * on a leash). They follow the prompts' step structure; they are not model output. The script starts
 * the local OpenAI-compatible test server with these replies queued in request order, and runs the
 * demo notebook through the real CLI in `record` mode with one clip at a time (so the order is fixed).
 * The sweep cell's requests are answered by matching the request (prompt wording and expression), so
 * they do not depend on the order in which the sweep sends them.
 *
 * Usage (after `npm run build`): `npx tsx test/tooling/recordDemo.ts`. It deletes the old exchanges
 * first (record mode would otherwise answer every request from them).
 * Run it again whenever the prompt templates, the model settings, the grid layout or the demo cells
 * change: recorded exchanges are addressed by a hash of what the request means (prompt text, model
 * settings, and for each image its descriptor: the decoded-frames key of the clip, frame indices,
 * tile layout, boxes and colours), not by the image bytes, so a different ffmpeg build or JPEG
 * encoder does not call for a re-record. The exact images sent are stored beside the exchanges, in
 * `exchanges/images/`.
 */
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OpenAiTestServer, type ReceivedRequest, type ScriptedReply } from './openaiServer';

const ROOT = path.resolve(__dirname, '../..');

/** Pivot-frame replies, clip by clip; clip 4 has no dog, so it gets a reply without brackets, then [-1] on the re-ask. */
const PIVOT_FRAME_REPLIES: string[] = [
  'Step 1. A woman in a white top and jeans bends towards a brown-and-white dog on a concrete path; she holds a small red ball and the dog, trailing its leash, watches it closely in every frame.\nStep 2. The dog is fully visible in all five frames; in frame 2 it stands side-on, sharp and clear of the woman\'s hands.\n[2]',
  'Step 1. The woman straightens up and lifts the ball; the dog stands on its hind legs, then turns around on the spot with the leash lying next to it.\nStep 2. Frame 1 shows the whole dog upright and still, before motion blur sets in.\n[1]',
  'Step 1. The woman throws the ball down the path; the dog leaps and sprints to the right after it, becoming blurred and leaving the view by frame 5.\nStep 2. In frame 3 the dog is running but its whole body, head to tail, is inside the picture.\n[3]',
  'Step 1. The woman stands alone on the path, arms low, then leans forward as if calling; the dog is out of the picture in all five frames.\nStep 2. The dog does not appear in any of these frames, so there is no frame in which it could be segmented.',
  '[-1]',
  'Step 1. The woman crouches with open arms; the dog comes back into view from the right edge in frame 2 and trots towards her with the ball.\nStep 2. In frame 5 the dog is completely inside the image, side-on, with the ball in its mouth.\n[5]',
  'Step 1. The dog walks towards the woman carrying the ball, dragging the leash; the woman bends down to take it.\nStep 2. Frame 3 shows the dog\'s whole body clearly in the middle of the path.\n[3]',
  'Step 1. The woman bends down to the dog and takes the ball from its mouth, then rises and gets ready to throw again.\nStep 2. Frame 2 has the dog standing still next to the woman, fully visible and sharp.\n[2]',
  'Step 1. The woman holds the ball up; the dog sits, then jumps up and spins while watching the ball.\nStep 2. Frame 1 shows the dog at rest, looking up, with no blur.\n[1]',
  'Step 1. The woman tosses the ball; the dog rears up on its hind legs to catch it and lands again.\nStep 2. Frame 2 shows the dog upright with the ball at its mouth, the whole body visible.\n[2]',
  'Step 1. The dog trots back with the ball along the path, leash trailing; the woman waits with her hands ready.\nStep 2. Frame 5 shows the dog side-on and complete, with the ball in its mouth.\n[5]',
  'Step 1. The dog walks past the woman towards the left, the leash dragging behind; the woman smiles and reaches towards it.\nStep 2. In frame 2 the dog is sharp and entirely visible in the middle of the path.\n[2]',
  'Step 1. The woman bends forward and takes the ball from the dog, which stands in front of her on the leash.\nStep 2. Frame 1 shows the dog facing her, whole and unobstructed.\n[1]',
];

/** Pivot-box replies for the valid clips, in order (clip 4 is invalid and not asked). */
const PIVOT_BOX_REPLIES: string[] = [
  boxReply('a woman bends towards a dog on a path between planted beds; the dog watches the red ball in her hand across the frames', [
    'box 1 (green) holds the whole dog, from its head to its tail',
    'box 2 (magenta) holds the woman',
    'box 3 (orange) holds only the leash lying on the ground',
  ], 1),
  boxReply('the woman lifts the ball and the dog stands up on its hind legs in front of her', [
    'box 1 (green) holds the woman',
    'box 2 (magenta) holds the whole dog standing up',
    'box 3 (orange) holds the leash on the ground',
  ], 2),
  boxReply('the woman throws the ball and the dog runs after it to the right', [
    'box 1 (green) holds the leash trailing behind the dog',
    'box 2 (magenta) holds the woman',
    'box 3 (orange) holds the running dog, whole',
  ], 3),
  boxReply('the dog comes back from the right with the ball while the woman crouches', [
    'box 1 (green) holds the whole dog with the ball',
    'box 2 (magenta) holds the woman reaching out',
    'box 3 (orange) holds the leash',
  ], 1),
  boxReply('the dog walks towards the woman carrying the ball', [
    'box 1 (green) holds the woman',
    'box 2 (magenta) holds the leash behind the dog',
    'box 3 (orange) holds the whole dog',
  ], 3),
  boxReply('the woman takes the ball from the dog', [
    'box 1 (green) holds the whole dog in front of the woman',
    'box 2 (magenta) holds the woman bending down',
    'box 3 (orange) holds the leash',
  ], 1),
  boxReply('the woman holds the ball up and the dog waits, then jumps', [
    'box 1 (green) holds the woman',
    'box 2 (magenta) holds the whole dog looking up',
    'box 3 (orange) holds the leash on the ground',
  ], 2),
  boxReply('the dog rears up to catch the tossed ball', [
    'box 1 (green) holds the leash hanging from the dog',
    'box 2 (magenta) holds the dog standing on its hind legs, whole',
    'box 3 (orange) holds the woman',
  ], 2),
  boxReply('the dog trots back along the path with the ball', [
    'box 1 (green) holds the whole dog with the ball in its mouth',
    'box 2 (magenta) holds the woman',
    'box 3 (orange) holds the leash',
  ], 1),
  boxReply('the dog walks past the woman, dragging its leash', [
    'box 1 (green) holds the woman',
    'box 2 (magenta) holds the leash',
    'box 3 (orange) holds the whole dog',
  ], 3),
  boxReply('the woman bends down and takes the ball from the dog', [
    'box 1 (green) holds the woman, whose arm reaches into the dog\'s area',
    'box 2 (magenta) holds the whole dog',
    'box 3 (orange) holds the leash',
  ], 2),
];

function boxReply(scene: string, boxes: string[], answer: number): string {
  return [
    `1. Scene. ${scene[0].toUpperCase()}${scene.slice(1)}.`,
    `2. Boxes. ${boxes.join('; ')}. The boxes do not overlap much; only one of them contains an animal.`,
    '3. Syntax. "the dog playing with the ball": the subject is "dog"; "playing with the ball" only describes what it does. The ball and the woman are not the subject.',
    `4. Choice. Box ${answer} covers the whole dog and little else; the other boxes hold the woman or the leash, so they are rejected.`,
    `5. Answer. [${answer}]`,
  ].join('\n');
}

/**
 * Replies for the sweep cell (variants `cot` and `cot-v2` on the first 25 frames, one clip, of the
 * car-shadow frames and of the dog clip), written by looking at those two grids. The dog clip with
 * the built-in prompt is the demo's own clip 1 (the same frames), so it gets that clip's reply.
 */
const SWEEP_REPLIES = {
  carCot:
    'Step 1. A small silver hatchback drives across a shaded street crossing, away from the camera and towards the sunlit buildings at the back, turning slightly and getting smaller from frame to frame.\n' +
    'Step 2. The car is in view in all five frames; in frame 2 it is sharp, seen from the side and the rear, with nothing in front of it.\n[2]',
  carV2:
    'Frame 1: the silver car is fully visible and large, on the left of the crossing.\nFrame 2: fully visible, slightly smaller, turning away.\nFrame 3: fully visible and smaller, in the middle of the road.\n' +
    'Frame 4: fully visible, smaller still.\nFrame 5: fully visible and smallest, near the far side.\nThe car is fully visible and appears largest and sharpest in frame 1.\n[1]',
  dogV2:
    "Frame 1: the dog is fully visible, side-on, at the woman's hand.\nFrame 2: fully visible, side-on and sharp, stepping away to the right.\nFrame 3: fully visible, turning back towards the woman.\n" +
    'Frame 4: fully visible, next to the leash and the woman\'s hands.\nFrame 5: fully visible, standing up towards the ball.\nThe dog appears largest and sharpest in frame 2.\n[2]',
  carBox: [
    '1. Scene. A silver hatchback drives across a shaded street crossing, away from the camera, with sunlit buildings behind it.',
    '2. Boxes. box 1 (green) holds the whole silver car; box 2 (magenta) holds part of the building on the left and the pavement in front of it.',
    '3. Syntax. "the silver car driving away": the subject is "car"; "driving away" only describes what it does.',
    '4. Choice. Box 1 covers the whole car and little else; box 2 holds no car at all, so it is rejected.',
    '5. Answer. [1]',
  ].join('\n'),
};

/** Answers a request of the sweep cell by what it asks (see {@link SWEEP_REPLIES}); tags what it answered. */
function sweepReply(r: ReceivedRequest, seen: Set<string>): ScriptedReply {
  const car = r.text.includes('the silver car driving away');
  const dog = r.text.includes('the dog playing with the ball');
  const v2 = r.text.includes('come from one short video clip');
  const box = /- box 1: /.test(r.text);
  const pick = (tag: string, text: string, promptTokens: number): ScriptedReply => {
    seen.add(tag);
    return { text, chunkSize: 12, promptTokens, completionTokens: Math.ceil(text.length / 4) };
  };
  if (car && box) {
    return pick('car/box', SWEEP_REPLIES.carBox, 2100);
  }
  if (car) {
    return v2 ? pick('car/cot-v2', SWEEP_REPLIES.carV2, 1390) : pick('car/cot', SWEEP_REPLIES.carCot, 1450);
  }
  if (dog && !box) {
    return v2 ? pick('dog/cot-v2', SWEEP_REPLIES.dogV2, 1390) : pick('dog/cot', PIVOT_FRAME_REPLIES[0], 1450);
  }
  return { fault: 'http-error', status: 400, errorMessage: `recordDemo has no reply for this request: ${r.text.slice(0, 200)}` };
}

async function main(): Promise<void> {
  const server = await OpenAiTestServer.start({ apiKey: 'demo-local-key' });
  const sweepSeen = new Set<string>();
  server.setScript((r) => sweepReply(r, sweepSeen));
  server.enqueue(...PIVOT_FRAME_REPLIES.map((text) => ({ text, chunkSize: 12, promptTokens: 1450, completionTokens: Math.ceil(text.length / 4) })));
  server.enqueue(...PIVOT_BOX_REPLIES.map((text) => ({ text, chunkSize: 12, promptTokens: 2100, completionTokens: Math.ceil(text.length / 4) })));
  await rm(path.join(ROOT, 'examples/demo.alref.runs/exchanges'), { recursive: true, force: true });
  const out = path.join(os.tmpdir(), 'alref-demo-recorded.alref');
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['dist/cli.js', 'notebook', 'run', 'examples/demo.alref', '--mode', 'record', '--out', out,
        '--set', `llm.baseUrl=${server.baseUrl}`, '--set', 'llm.concurrency=1', '--missing-models', 'skip'],
      { cwd: ROOT, stdio: 'inherit', env: { ...process.env, OPENAI_API_KEY: 'demo-local-key' } },
    );
    child.on('error', reject);
    child.on('exit', (c) => resolve(c ?? 1));
  });
  await server.stop();
  const queued = PIVOT_FRAME_REPLIES.length + PIVOT_BOX_REPLIES.length;
  // the sweep's dog clip with the built-in prompt repeats the demo's clip 1 request, which a record
  // run may answer from the store; every other sweep request must have been asked
  const sweepTags = ['car/cot', 'car/cot-v2', 'car/box', 'dog/cot-v2'];
  const missing = sweepTags.filter((t) => !sweepSeen.has(t));
  process.stdout.write(`recorded ${server.requests.length} exchanges (${queued} for the pipeline cells, the rest for the sweep: ${[...sweepSeen].sort().join(', ')}); CLI exit code ${code}; executed notebook: ${out}\n`);
  if (code !== 0 || server.requests.length < queued + sweepTags.length || missing.length > 0) {
    process.stdout.write(missing.length > 0 ? `sweep requests never asked: ${missing.join(', ')}\n` : '');
    process.exitCode = 1;
  }
}

void main();
