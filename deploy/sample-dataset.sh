#!/bin/bash
# Arranges the bundled DAVIS car-shadow clip (media/samples/davis-car-shadow) as a tiny Ref-YouTube-VOS
# `train` split with ground truth: three "videos" (frames 0-13, 14-26, 27-39), one expression each,
# so a 3-shard cluster run has one video per shard. The sample masks are 0/255, so the referred object
# id is 255.
#
#   bash deploy/sample-dataset.sh /shared/car-shadow
#   alref eval --dataset ref-youtube-vos --split train --root /shared/car-shadow --shard 0/3 ...
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 <output folder>" >&2
  exit 2
fi
out="$1"
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/media/samples/davis-car-shadow"
mkdir -p "$out/meta_expressions/train"
videos=""
for part in "a 0 13" "b 14 26" "c 27 39"; do
  set -- $part
  video="car-shadow-$1"
  mkdir -p "$out/train/JPEGImages/$video" "$out/train/Annotations/$video"
  frames=""
  for ((t = $2; t <= $3; t++)); do
    name=$(printf '%05d' "$t")
    cp "$src/JPEGImages/$name.jpg" "$out/train/JPEGImages/$video/"
    cp "$src/Annotations/$name.png" "$out/train/Annotations/$video/"
    frames="$frames${frames:+, }\"$name\""
  done
  videos="$videos${videos:+, }\"$video\": {\"expressions\": {\"0\": {\"exp\": \"the black car driving through the shadow\", \"obj_id\": \"255\"}}, \"frames\": [$frames]}"
done
printf '{"videos": {%s}}\n' "$videos" > "$out/meta_expressions/train/meta_expressions.json"
echo "Sample dataset (ref-youtube-vos, split train, 3 videos): $out"
