import path from 'node:path';
import type { GridImage, VideoData } from '../domain';
import type { BoxLayout } from '../draw/boxes';
import type { ImageDescriptor } from './exchanges';

/**
 * Descriptors of the images the stages send to the LLM (see {@link ImageDescriptor}): what a picture
 * shows, independent of the bytes a particular ffmpeg build or JPEG encoder produced, so that a
 * recorded exchange replays on any machine that decodes the same video with the same options.
 */

/**
 * The identity of a video's decoded frames: the frame cache key (the folder name under
 * `<runDir>/frames/`), which hashes the source's content and every decode option that changes the
 * pixels (decoded size, start, end, frame limit, folder frame rate), never the decoder's output.
 */
export function decodedFramesKey(video: VideoData): string {
  return path.basename(video.framesDir);
}

/** A clip's frame grid: the decoded frames, and where each frame sits with which id written on it. */
export function gridDescriptor(video: VideoData, grid: GridImage): ImageDescriptor {
  return {
    kind: 'frame-grid',
    frames: decodedFramesKey(video),
    width: grid.width,
    height: grid.height,
    tiles: grid.tiles.map((t) => ({ frameIndex: t.frameIndex, frameId: t.frameId, x: t.x, y: t.y, width: t.width, height: t.height })),
  };
}

/**
 * The pivot-box image: one decoded frame with numbered boxes painted in their colours, labelled with
 * its frame id, and the clip's grid beside it when there is one.
 */
export function pivotBoxDescriptor(video: VideoData, frameIndex: number, pivotFrameId: number, boxes: BoxLayout[], grid: GridImage | undefined): ImageDescriptor {
  return {
    kind: 'pivot-box',
    frames: decodedFramesKey(video),
    frameIndex,
    pivotFrameId,
    boxes: boxes.map((b) => ({ number: b.number, colour: b.colour, rect: b.rect, strokeWidth: b.strokeWidth })),
    grid: grid ? gridDescriptor(video, grid) : null,
  };
}
