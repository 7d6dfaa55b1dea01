#!/usr/bin/env python3
"""
Exports an official SAM 2 / SAM 2.1 video model into the five ONNX graphs AL-Ref Notebooks loads
(vision_encoder, mask_decoder, memory_encoder, memory_attention, pointer_tpos) plus constants.json:

  OUT/onnx/vision_encoder.onnx    pixel_values [1,3,S,S] -> feats0, feats1, feats2, feats2_no_mem, vision_pos_embed
  OUT/onnx/mask_decoder.onnx      feats0, feats1, feats2_cond, input_points [1,1,N,2], input_labels [1,1,N] (int32)
                                  -> low_res_mask, high_res_mask, iou, object_score_logits, object_pointer
  OUT/onnx/memory_encoder.onnx    feats2, high_res_mask, object_score_logits [1,1], binarize (float scalar)
                                  -> memory_tokens [hw,1,D], memory_pos [hw,1,D]
  OUT/onnx/memory_attention.onnx  current_vision_features [hw,1,C], current_vision_position_embeddings,
                                  memory [M,1,D], memory_pos [M,1,D] -> conditioned_feats [1,C,h,w]
                                  (--memory dynamic: M symbolic; --memory fixed: M = num_maskmem*hw +
                                  max_obj_ptrs*C/D, all-zero rows are padding)
  OUT/onnx/pointer_tpos.onnx      normalized_diffs [P] -> pointer_pos [P,D]
  OUT/constants.json              temporal position table, image size, memory sizes and the host-loop flags

Every graph wraps the official modules (model.forward_image, _forward_sam_heads, _encode_new_memory,
memory_attention, obj_ptr_tpos_proj); only RoPE attention is rewritten with real cos/sin tables (torch.onnx
cannot export complex numbers), with the same values.

Examples
  # an official checkpoint (from the SAM 2 repository's checkpoints/download_ckpts.sh)
  python3 export.py --config sam2.1/sam2.1_hiera_s.yaml --checkpoint sam2.1_hiera_small.pt --out ~/models/sam2.1-hiera-small-video
  # the micro random-weight model of the tests
  python3 export.py --micro --random-seed 0 --out test/fixtures/sam2-golden/model
The official source comes from `pip install sam2`, or --sam2-src / SAM2_SRC (a checkout of facebookresearch/sam2).
"""
import argparse
import json
import math
import os
import types

import sam2_env


def build_wrappers(torch, model):
    from sam2.modeling.sam2_utils import get_1d_sine_pe

    class VisionEncoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, pixel_values):
            out = self.m.forward_image(pixel_values)
            fpn, pos = out["backbone_fpn"], out["vision_pos_enc"]
            # directly_add_no_mem_embed: an initial conditioning frame sees feats2 + no_mem_embed
            return fpn[0], fpn[1], fpn[2], fpn[2] + self.m.no_mem_embed.reshape(1, -1, 1, 1), pos[2]

    class MaskDecoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, feats0, feats1, feats2_cond, input_points, input_labels):
            m = self.m
            prompt = {"point_coords": input_points[:, 0], "point_labels": input_labels[:, 0]}
            hr = [feats0, feats1]
            multi = m._forward_sam_heads(feats2_cond, prompt, None, hr, multimask_output=True)
            single = m._forward_sam_heads(feats2_cond, prompt, None, hr, multimask_output=False)
            # SAM2Base._use_multimask: multimask_min_pt_num <= #points <= multimask_max_pt_num; a tracked frame
            # passes the single padding point (label -1), i.e. 0 points
            n = (input_labels[:, 0] != -1).sum()
            use_multi = (n >= m.multimask_min_pt_num) & (n <= m.multimask_max_pt_num) & torch.tensor(bool(m.multimask_output_in_sam))

            def pick(a, b):
                return torch.where(use_multi, a, b)

            iou = pick(multi[2].amax(dim=-1, keepdim=True), single[2])
            return pick(multi[3], single[3]), pick(multi[4], single[4]), iou, single[6].reshape(1, 1, 1), pick(multi[5], single[5]).unsqueeze(1)

    class MemoryEncoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, feats2, high_res_mask, object_score_logits, binarize):
            m = self.m
            cvf = [feats2.flatten(2).permute(2, 0, 1)]
            fs = [(feats2.shape[-2], feats2.shape[-1])]
            on, pos = m._encode_new_memory(current_vision_feats=cvf, feat_sizes=fs, pred_masks_high_res=high_res_mask, object_score_logits=object_score_logits, is_mask_from_pts=True)
            off, _ = m._encode_new_memory(current_vision_feats=cvf, feat_sizes=fs, pred_masks_high_res=high_res_mask, object_score_logits=object_score_logits, is_mask_from_pts=False)
            feats = torch.where(binarize > 0.5, on, off)
            if m.no_obj_embed_spatial is None:
                # SAM 2.0 does not use the object score here; keep the input so that every export has the same
                # signature (onnx drops unused inputs)
                feats = feats + 0.0 * object_score_logits.reshape(1, 1, 1, 1)
            return feats.flatten(2).permute(2, 0, 1), pos[-1].flatten(2).permute(2, 0, 1)

    class MemoryAttention(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, current_vision_features, current_vision_position_embeddings, memory, memory_pos):
            out = self.m.memory_attention(curr=[current_vision_features], curr_pos=[current_vision_position_embeddings], memory=memory, memory_pos=memory_pos, num_obj_ptr_tokens=0)
            hw, b, c = out.shape
            s = int(round(math.sqrt(hw)))
            return out.permute(1, 2, 0).reshape(b, c, s, s)

    class PointerTpos(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, normalized_diffs):
            m = self.m
            if not m.add_tpos_enc_to_obj_ptrs:
                # SAM 2.0: object pointers carry no temporal encoding (the host reads the flag and sends none)
                return normalized_diffs[:, None] * torch.zeros(1, m.mem_dim)
            dim = m.hidden_dim if m.proj_tpos_enc_in_obj_ptrs else m.mem_dim
            return m.obj_ptr_tpos_proj(get_1d_sine_pe(normalized_diffs, dim=dim))

    return VisionEncoder(), MaskDecoder(), MemoryEncoder(), MemoryAttention(), PointerTpos()


def patch_for_export(torch, model, feat_hw, fixed_memory):
    """Export-only rewrites of the same modules (weights untouched)."""
    from sam2.modeling.position_encoding import compute_axial_cis

    trunk = model.image_encoder.trunk
    tokens = model.image_size // trunk.patch_embed.proj.stride[0] if hasattr(trunk, "patch_embed") else None
    with torch.no_grad():
        pe = trunk._get_pos_embed((tokens, tokens)).clone()  # bicubic interpolation of a parameter: a constant
    trunk._get_pos_embed = lambda hw: pe

    def rot(x, cos, sin):
        x2 = x.reshape(*x.shape[:-1], -1, 2)
        a, b = x2[..., 0], x2[..., 1]
        return torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)

    def rope_forward(self, q, k, v, num_k_exclude_rope=0):
        # RoPEAttention.forward with real arithmetic. Key row j gets the rotation of row j % hw while j lies in
        # the whole hw-row frame blocks; the remaining rows (object-pointer tokens, fewer than hw) get none.
        valid = None
        if self._pad_rows:
            valid = (k.abs().amax(dim=-1) > 0) | (v.abs().amax(dim=-1) > 0)
        q = self._separate_heads(self.q_proj(q), self.num_heads)
        k = self._separate_heads(self.k_proj(k), self.num_heads)
        v = self._separate_heads(self.v_proj(v), self.num_heads)
        cos, sin = self._cos, self._sin
        hw = cos.shape[0]
        q = rot(q, cos, sin)
        if k.shape[-2] == hw and not self.rope_k_repeat:
            k = rot(k, cos, sin)
        else:
            r = torch.arange(k.shape[-2], dtype=torch.int64)
            spatial = (torch._shape_as_tensor(k)[-2] // hw) * hw
            is_rope = (r < spatial).unsqueeze(-1)
            idx = torch.remainder(r, hw)
            k = rot(k, torch.where(is_rope, cos.index_select(0, idx), torch.ones_like(cos[:1])), torch.where(is_rope, sin.index_select(0, idx), torch.zeros_like(sin[:1])))
        attn = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        if valid is not None:
            attn = attn.masked_fill(~valid[:, None, None, :], -1e30)
        out = torch.matmul(attn.softmax(dim=-1), v)
        return self.out_proj(self._recombine_heads(out))

    h, w = feat_hw
    for layer in model.memory_attention.layers:
        for attn, cross in ((layer.self_attn, False), (layer.cross_attn_image, True)):
            cis = compute_axial_cis(dim=attn.internal_dim // attn.num_heads, end_x=w, end_y=h, theta=attn.compute_cis.keywords.get("theta", 10000.0))
            attn._cos, attn._sin = cis.real.contiguous(), cis.imag.contiguous()
            attn._pad_rows = cross and fixed_memory
            attn.forward = types.MethodType(rope_forward, attn)

    real_where = torch.where

    def where(cond, a=None, b=None):
        # torch.where(cond, tensor, python float) exports the float as a double, which onnxruntime rejects
        if a is None:
            return real_where(cond)
        if not torch.is_tensor(a):
            a = torch.tensor(a, dtype=b.dtype)
        if not torch.is_tensor(b):
            b = torch.tensor(b, dtype=a.dtype)
        return real_where(cond, a, b)

    torch.where = where


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("Examples")[1])
    ap.add_argument("--out", required=True, help="model folder to write (onnx/<graph>.onnx + constants.json)")
    ap.add_argument("--config", default="sam2.1/sam2.1_hiera_t.yaml", help="official config: sam2/sam2_hiera_{t,s,b+,l}.yaml or sam2.1/sam2.1_hiera_{t,s,b+,l}.yaml, or a path")
    ap.add_argument("--checkpoint", help="official checkpoint (.pt); omit with --random-seed")
    ap.add_argument("--random-seed", type=int, help="random weights with this seed (tests)")
    ap.add_argument("--micro", action="store_true", help="the micro configuration of the same architecture (tests)")
    ap.add_argument("--memory", choices=["dynamic", "fixed"], default="dynamic", help="memory length of memory_attention (default dynamic)")
    ap.add_argument("--score-affine", help="k,t: object score s -> k*(s-t) (tests of the no-object path)")
    ap.add_argument("--only", help="comma list of graphs to write")
    ap.add_argument("--sam2-src", help="checkout of facebookresearch/sam2 (default: $SAM2_SRC or the installed package)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    if (a.checkpoint is None) == (a.random_seed is None):
        ap.error("give exactly one of --checkpoint and --random-seed")
    sam2_env.load_sam2(a.sam2_src)
    import torch

    torch.set_num_threads(a.threads)
    affine = tuple(float(x) for x in a.score_affine.split(",")) if a.score_affine else None
    model = sam2_env.build(a.config, a.checkpoint, a.random_seed, micro=a.micro, score_affine=affine)
    export(torch, model, a.out, a.memory == "fixed", a.only.split(",") if a.only else None)


def export(torch, model, out, fixed, only=None):
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    S = model.image_size
    ve, md, me, ma, pt = build_wrappers(torch, model)
    g = torch.Generator().manual_seed(123)
    px = torch.randn(1, 3, S, S, generator=g)
    with torch.no_grad():
        f0, f1, f2, f2nm, vpe = ve(px)
    h, w = f2.shape[-2:]
    hw, D, C = h * w, model.mem_dim, model.hidden_dim
    per_ptr = C // D
    max_ptrs = model.max_obj_ptrs_in_encoder
    mem_len = model.num_maskmem * hw + max_ptrs * per_ptr
    constants = {
        "memory_temporal_pos_enc": model.maskmem_tpos_enc.detach().reshape(model.num_maskmem, D).tolist(),
        "image_size": S,
        "num_maskmem": model.num_maskmem,
        "max_obj_ptrs_in_encoder": max_ptrs,
        "memory_length": mem_len if fixed else None,
        "signed_pointer_distances": bool(getattr(model, "use_signed_tpos_enc_to_obj_ptrs", False)),
        "pointer_time_encoding": bool(model.add_tpos_enc_to_obj_ptrs),
        "only_past_pointers": bool(model.only_obj_ptrs_in_the_past_for_eval),
        "sigmoid_scale_for_mem_enc": model.sigmoid_scale_for_mem_enc,
        "sigmoid_bias_for_mem_enc": model.sigmoid_bias_for_mem_enc,
        "exporter": "AL-Ref Notebooks tools/sam2-export",
    }
    with open(os.path.join(out, "constants.json"), "w") as fh:
        json.dump(constants, fh)
    patch_for_export(torch, model, (h, w), fixed)
    box = torch.tensor([[[[0.3 * S, 0.25 * S], [0.6 * S, 0.7 * S]]]])
    labels = torch.tensor([[[2, 3]]], dtype=torch.int32)
    with torch.no_grad():
        low, high, iou, osl, ptr = md(f0, f1, f2nm, box, labels)
        mt, mp = me(f2, high, osl.reshape(1, 1), torch.tensor(1.0))
    n_ptr = 3
    mem = torch.cat([mt, 0.5 * mt, torch.randn(n_ptr * per_ptr, 1, D, generator=g)])
    mpos = torch.cat([mp, mp, torch.randn(n_ptr * per_ptr, 1, D, generator=g)])
    if fixed:
        pad = lambda n: torch.zeros(n, 1, D)  # noqa: E731
        mem = torch.cat([mem[: 2 * hw], pad((model.num_maskmem - 2) * hw), mem[2 * hw:], pad((max_ptrs - n_ptr) * per_ptr)])
        mpos = torch.cat([mpos[: 2 * hw], pad((model.num_maskmem - 2) * hw), mpos[2 * hw:], pad((max_ptrs - n_ptr) * per_ptr)])
    cvf, cvp = f2.flatten(2).permute(2, 0, 1), vpe.flatten(2).permute(2, 0, 1)
    graphs = {
        "vision_encoder": (ve, (px,), ["pixel_values"], ["feats0", "feats1", "feats2", "feats2_no_mem", "vision_pos_embed"], None),
        "mask_decoder": (md, (f0, f1, f2nm, box, labels), ["feats0", "feats1", "feats2_cond", "input_points", "input_labels"],
                         ["low_res_mask", "high_res_mask", "iou", "object_score_logits", "object_pointer"], {"input_points": {2: "num_points"}, "input_labels": {2: "num_points"}}),
        "memory_encoder": (me, (f2, high, osl.reshape(1, 1), torch.tensor(1.0)), ["feats2", "high_res_mask", "object_score_logits", "binarize"], ["memory_tokens", "memory_pos"], None),
        "memory_attention": (ma, (cvf, cvp, mem, mpos), ["current_vision_features", "current_vision_position_embeddings", "memory", "memory_pos"], ["conditioned_feats"],
                             None if fixed else {"memory": {0: "memory_length"}, "memory_pos": {0: "memory_length"}}),
        "pointer_tpos": (pt, (torch.tensor([0.0, -2.0 / 9, 5.0 / 9]),), ["normalized_diffs"], ["pointer_pos"], {"normalized_diffs": {0: "num_pointers"}}),
    }
    for name, (mod, inputs, ins, outs, dyn) in graphs.items():
        if only and name not in only:
            continue
        path = os.path.join(out, "onnx", f"{name}.onnx")
        mod.eval()
        with torch.no_grad():
            torch.onnx.export(mod, inputs, path, input_names=ins, output_names=outs, dynamic_axes=dyn, opset_version=17, do_constant_folding=True)
        print(f"{path}: {os.path.getsize(path) // 1024} KiB", flush=True)


if __name__ == "__main__":
    main()
