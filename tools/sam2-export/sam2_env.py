"""
Loads the OFFICIAL SAM 2 source and builds SAM 2 / SAM 2.1 models from its own YAML configs, on any
PyTorch >= 1.13 (Debian's python3-torch included), without hydra or iopath installed.

Where the source comes from, first match wins:
  1. --sam2-src DIR or the SAM2_SRC environment variable: a checkout of facebookresearch/sam2 (the folder that
     holds `sam2/` and `setup.py`);
  2. an installed `sam2` package (`pip install sam2`).
Nothing of SAM 2 is copied here: every module, config and weight layout is the official one.

Compatibility measures, none of which changes the model's maths:
  * hydra / iopath: when not importable, two tiny in-memory stand-ins are registered (sam2/__init__.py only
    checks hydra's global state; hieradet only uses iopath to open a file);
  * torch < 2.0 lacks F.scaled_dot_product_attention: a plain softmax(q k^T / sqrt(d)) v is installed;
  * sam2.utils.misc.get_connected_components is a CUDA kernel; on CPU the official predictor silently skips
    hole filling. An OpenCV (8-connectivity) version with the same contract is installed so that
    fill_hole_area runs as it does on a GPU;
  * hydra.utils.instantiate is replaced by a small `_target_` instantiation over the YAML (omegaconf).
"""
import importlib
import math
import os
import sys
import types

import numpy as np


def _register_standins():
    try:
        import hydra  # noqa: F401
    except ImportError:
        hydra = types.ModuleType("hydra")
        hydra.initialize_config_module = lambda *a, **k: None
        core = types.ModuleType("hydra.core")
        gh = types.ModuleType("hydra.core.global_hydra")

        class GlobalHydra:
            _one = None

            @classmethod
            def instance(cls):
                cls._one = cls._one or cls()
                return cls._one

            def is_initialized(self):
                return True

        gh.GlobalHydra = GlobalHydra
        hydra.core = core
        core.global_hydra = gh
        sys.modules.update({"hydra": hydra, "hydra.core": core, "hydra.core.global_hydra": gh})
    try:
        import iopath.common.file_io  # noqa: F401
    except ImportError:
        io = types.ModuleType("iopath")
        common = types.ModuleType("iopath.common")
        fio = types.ModuleType("iopath.common.file_io")
        fio.g_pathmgr = types.SimpleNamespace(open=open)
        io.common = common
        common.file_io = fio
        sys.modules.update({"iopath": io, "iopath.common": common, "iopath.common.file_io": fio})


def load_sam2(src=None):
    """Imports the official `sam2` package (from `src`, $SAM2_SRC or site-packages) and patches it for CPU use."""
    src = src or os.environ.get("SAM2_SRC")
    if src:
        if not os.path.isdir(os.path.join(src, "sam2")):
            raise SystemExit(f"{src} holds no sam2/ folder: point --sam2-src / SAM2_SRC at a checkout of facebookresearch/sam2")
        sys.path.insert(0, os.path.abspath(src))
    _register_standins()
    import torch
    import torch.nn.functional as F

    if not hasattr(F, "scaled_dot_product_attention"):
        def sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
            assert attn_mask is None and not is_causal
            s = scale if scale is not None else 1.0 / math.sqrt(q.size(-1))
            return torch.matmul((torch.matmul(q, k.transpose(-2, -1)) * s).softmax(dim=-1), v)

        F.scaled_dot_product_attention = sdpa
    try:
        import sam2  # noqa: F401
    except ImportError as e:
        raise SystemExit(f"cannot import the official SAM 2 package ({e}): `pip install sam2`, or pass --sam2-src / set SAM2_SRC")
    import sam2.utils.misc as misc

    def connected_components(mask):
        import cv2

        m = mask.to(torch.uint8).cpu().numpy()
        labels = np.zeros(m.shape, np.int32)
        counts = np.zeros(m.shape, np.int32)
        for n in range(m.shape[0]):
            _, lab, stats, _ = cv2.connectedComponentsWithStats(m[n, 0], connectivity=8)
            area = stats[:, cv2.CC_STAT_AREA].astype(np.int32)
            labels[n, 0] = lab
            counts[n, 0] = np.where(lab > 0, area[lab], 0)
        return torch.from_numpy(labels).to(mask.device), torch.from_numpy(counts).to(mask.device)

    misc.get_connected_components = connected_components
    return os.path.dirname(os.path.abspath(sys.modules["sam2"].__file__))


def instantiate(node):
    from omegaconf import OmegaConf

    if OmegaConf.is_dict(node) or isinstance(node, dict):
        items = dict(node.items())
        target = items.pop("_target_", None)
        kwargs = {k: instantiate(v) for k, v in items.items()}
        if target is None:
            return kwargs
        mod, _, name = str(target).rpartition(".")
        return getattr(importlib.import_module(mod), name)(**kwargs)
    if OmegaConf.is_list(node) or isinstance(node, list):
        return [instantiate(v) for v in node]
    return node


# A MICRO model of the same architecture: every module and code path of SAM 2.1 hiera-tiny, with fewer blocks,
# smaller widths and a 128 px image (level-2 features 8x8, low-res masks 32x32). Random weights only.
MICRO = {
    "image_size": 128,
    "image_encoder.trunk.embed_dim": 8,
    "image_encoder.trunk.stages": [1, 1, 2, 1],
    "image_encoder.trunk.global_att_blocks": [3],
    "image_encoder.trunk.window_pos_embed_bkg_spatial_size": [4, 4],
    "image_encoder.trunk.window_spec": [8, 4, 4, 2],
    "image_encoder.neck.d_model": 32,
    "image_encoder.neck.backbone_channel_list": [64, 32, 16, 8],
    "image_encoder.neck.position_encoding.num_pos_feats": 32,
    "memory_attention.d_model": 32,
    "memory_attention.num_layers": 2,
    "memory_attention.layer.d_model": 32,
    "memory_attention.layer.dim_feedforward": 64,
    "memory_attention.layer.self_attention.embedding_dim": 32,
    "memory_attention.layer.self_attention.feat_sizes": [8, 8],
    "memory_attention.layer.cross_attention.embedding_dim": 32,
    "memory_attention.layer.cross_attention.feat_sizes": [8, 8],
    "memory_attention.layer.cross_attention.kv_in_dim": 16,
    "memory_encoder.out_dim": 16,
    "memory_encoder.in_dim": 32,
    "memory_encoder.position_encoding.num_pos_feats": 16,
    "memory_encoder.mask_downsampler.embed_dim": 32,
    "memory_encoder.fuser.layer.dim": 32,
    "memory_encoder.fuser.num_layers": 1,
}


class micro_sam_heads:
    """SAM2Base._build_sam_heads fixes the mask decoder's widths (MLP 2048, IoU head 256) in code rather than in
    the config; for the micro model they are narrowed (MLP 64, IoU head 32) while building. Same modules."""

    def __enter__(self):
        import sam2.modeling.sam2_base as base

        self._saved = (base.TwoWayTransformer, base.MaskDecoder)
        TWT, MD = self._saved
        base.TwoWayTransformer = lambda **kw: TWT(**{**kw, "mlp_dim": 64})
        base.MaskDecoder = lambda **kw: MD(**{**kw, "iou_head_hidden_dim": 32})

    def __exit__(self, *exc):
        import sam2.modeling.sam2_base as base

        base.TwoWayTransformer, base.MaskDecoder = self._saved


def model_config(config, fill_hole_area=8, micro=False):
    """The model node of an official YAML (path or name like sam2.1/sam2.1_hiera_t.yaml) with the overrides
    build_sam2_video_predictor applies (apply_postprocessing=True)."""
    from omegaconf import OmegaConf

    pkg = os.path.dirname(os.path.abspath(sys.modules["sam2"].__file__))
    path = config if os.path.isfile(config) else os.path.join(pkg, "configs", config)
    if not os.path.isfile(path):
        raise SystemExit(f"no SAM 2 config {config} (looked in {os.path.join(pkg, 'configs')})")
    cfg = OmegaConf.load(path).model
    cfg._target_ = "sam2.sam2_video_predictor.SAM2VideoPredictor"
    cfg.sam_mask_decoder_extra_args = {
        "dynamic_multimask_via_stability": True,
        "dynamic_multimask_stability_delta": 0.05,
        "dynamic_multimask_stability_thresh": 0.98,
    }
    cfg.binarize_mask_from_pts_for_mem_enc = True
    cfg.fill_hole_area = fill_hole_area
    if micro:
        for key, value in MICRO.items():
            OmegaConf.update(cfg, key, value, force_add=True)
    return cfg


def build(config, checkpoint=None, seed=None, fill_hole_area=8, micro=False, score_affine=None):
    """Official SAM2VideoPredictor from a config + a checkpoint (the official `{"model": state_dict}` file), or
    with seeded random weights (see `shape_random_weights`)."""
    import torch

    cfg = model_config(config, fill_hole_area, micro)
    if seed is not None:
        torch.manual_seed(seed)
    if micro:
        with micro_sam_heads():
            model = instantiate(cfg)
    else:
        model = instantiate(cfg)
    if checkpoint:
        sd = torch.load(checkpoint, map_location="cpu")
        sd = sd.get("model", sd)
        missing, unexpected = model.load_state_dict(sd, strict=False)
        if missing or unexpected:
            raise SystemExit(f"{checkpoint} does not fit {config}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    elif seed is not None:
        shape_random_weights(model, seed)
    if score_affine:
        k, t = score_affine
        head = model.sam_mask_decoder.pred_obj_score_head
        last = head.layers[-1] if hasattr(head, "layers") else head
        with torch.no_grad():
            last.weight.mul_(k)
            last.bias.copy_(k * (last.bias - t))
    return model.eval()


def shape_random_weights(model, seed):
    """Deterministic rescaling of a randomly initialised model so that its masks have both signs, its object
    scores are input dependent and mostly positive, and memory changes the tracked frames (the default init
    gives almost constant outputs, which would test nothing)."""
    import torch

    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.LayerNorm) or type(m).__name__ == "LayerNorm2d":
                m.weight.copy_(1.0 + 0.25 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.25 * torch.randn(m.bias.shape, generator=g))
        dec = model.sam_mask_decoder
        for mlp in dec.output_hypernetworks_mlps:
            mlp.layers[-1].weight.mul_(4.0)
        head = dec.pred_obj_score_head
        last = head.layers[-1] if hasattr(head, "layers") else head
        last.bias.add_(2.0)
        for layer in model.memory_attention.layers:
            layer.cross_attn_image.out_proj.weight.mul_(3.0)
        for p in (model.maskmem_tpos_enc, model.no_mem_embed, model.no_obj_ptr, getattr(model, "no_obj_embed_spatial", None)):
            if p is not None:
                p.mul_(10.0)
