"""Tensor names and shapes from the headers of real, public model files, and a writer that turns them
into tiny sparse safetensors files whose header offsets match a data section of the full size.

Each entry lists a subset of the real file's tensors (the ones identification looks at plus a few
neighbours), with the shapes the published header gives. Sources: the safetensors header viewer on the
Hugging Face file page of each file named in ``SOURCE``, and ComfyUI 0.3.64's loaders (which read these
same keys: ``../shared/comfyui-src/comfy/model_detection.py``, ``comfy/sd.py``).
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

DTYPE_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "I64": 8}

Header = dict[str, tuple[str, list[int]]]

SOURCE = {
    "sd15": "Comfy-Org/stable-diffusion-v1-5-archive: v1-5-pruned-emaonly-fp16.safetensors",
    "sdxl": "stabilityai/stable-diffusion-xl-base-1.0: sd_xl_base_1.0.safetensors",
    "sd35": "stabilityai/stable-diffusion-3.5-large: sd3.5_large.safetensors",
    "flux": "black-forest-labs/FLUX.1-dev: flux1-dev.safetensors",
    "wan": "Comfy-Org/Wan_2.1_ComfyUI_repackaged: wan2.1_t2v_14B_fp16.safetensors",
    "hunyuan_video": "Comfy-Org/HunyuanVideo_repackaged: hunyuan_video_t2v_720p_bf16.safetensors",
    "ltxv": "Lightricks/LTX-Video: ltx-video-2b-v0.9.5.safetensors",
    "qwen_image": "Comfy-Org/Qwen-Image_ComfyUI: qwen_image_bf16.safetensors",
    "hidream": "Comfy-Org/HiDream-I1_ComfyUI: hidream_i1_full_fp16.safetensors",
}

# family → (file name, expected role, header)
FAMILY_FILES: dict[str, tuple[str, str, Header]] = {
    "sd15": ("v1-5-pruned-emaonly-fp16.safetensors", "checkpoint", {
        "model.diffusion_model.input_blocks.0.0.weight": ("F16", [320, 4, 3, 3]),
        "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": ("F16", [320, 768]),
        "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_q.weight": ("F16", [320, 320]),
        "model.diffusion_model.middle_block.1.proj_in.weight": ("F16", [1280, 1280, 1, 1]),
        "model.diffusion_model.out.2.weight": ("F16", [4, 320, 3, 3]),
        "first_stage_model.decoder.conv_in.weight": ("F16", [512, 4, 3, 3]),
        "first_stage_model.encoder.conv_in.weight": ("F16", [128, 3, 3, 3]),
        "cond_stage_model.transformer.text_model.encoder.layers.0.mlp.fc1.weight": ("F16", [3072, 768]),
        "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": ("F16", [49408, 768]),
    }),
    "sdxl": ("sd_xl_base_1.0.safetensors", "checkpoint", {
        "model.diffusion_model.input_blocks.0.0.weight": ("F16", [320, 4, 3, 3]),
        "model.diffusion_model.label_emb.0.0.weight": ("F16", [1280, 2816]),
        "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": ("F16", [640, 2048]),
        "model.diffusion_model.input_blocks.4.1.proj_in.weight": ("F16", [640, 640]),
        "model.diffusion_model.out.2.weight": ("F16", [4, 320, 3, 3]),
        "first_stage_model.decoder.conv_in.weight": ("F16", [512, 4, 3, 3]),
        "conditioner.embedders.0.transformer.text_model.encoder.layers.0.mlp.fc1.weight": ("F16", [3072, 768]),
        "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight": ("F16", [3840, 1280]),
        "conditioner.embedders.1.model.text_projection": ("F16", [1280, 1280]),
    }),
    "sd35": ("sd3.5_large.safetensors", "checkpoint", {
        "model.diffusion_model.joint_blocks.0.context_block.attn.qkv.weight": ("BF16", [7296, 2432]),
        "model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight": ("BF16", [7296, 2432]),
        "model.diffusion_model.joint_blocks.0.context_block.attn.ln_q.weight": ("BF16", [64]),
        "model.diffusion_model.x_embedder.proj.weight": ("BF16", [2432, 16, 2, 2]),
        "model.diffusion_model.pos_embed": ("BF16", [1, 36864, 2432]),
        "model.diffusion_model.context_embedder.weight": ("BF16", [2432, 4096]),
        "model.diffusion_model.y_embedder.mlp.0.weight": ("BF16", [2432, 2048]),
        "model.diffusion_model.final_layer.linear.weight": ("BF16", [64, 2432]),
        "first_stage_model.decoder.conv_in.weight": ("BF16", [512, 16, 3, 3]),
    }),
    "flux": ("flux1-dev.safetensors", "diffusion_model", {
        "double_blocks.0.img_attn.norm.key_norm.scale": ("BF16", [128]),
        "double_blocks.0.img_attn.qkv.weight": ("BF16", [9216, 3072]),
        "double_blocks.0.img_mlp.0.weight": ("BF16", [12288, 3072]),
        "img_in.weight": ("BF16", [3072, 64]),
        "guidance_in.in_layer.weight": ("BF16", [3072, 256]),
        "vector_in.in_layer.weight": ("BF16", [3072, 768]),
        "txt_in.weight": ("BF16", [3072, 4096]),
        "single_blocks.0.linear1.weight": ("BF16", [21504, 3072]),
        "final_layer.linear.weight": ("BF16", [64, 3072]),
    }),
    "wan": ("wan2.1_t2v_14B_fp16.safetensors", "diffusion_model", {
        "head.modulation": ("F32", [1, 2, 5120]),
        "head.head.weight": ("F16", [64, 5120]),
        "patch_embedding.weight": ("F16", [5120, 16, 1, 2, 2]),
        "blocks.0.cross_attn.k.weight": ("F16", [5120, 5120]),
        "blocks.0.self_attn.q.weight": ("F16", [5120, 5120]),
        "blocks.0.ffn.0.weight": ("F16", [13824, 5120]),
        "blocks.0.modulation": ("F32", [1, 6, 5120]),
        "text_embedding.0.weight": ("F16", [5120, 4096]),
        "time_embedding.0.weight": ("F16", [5120, 256]),
    }),
    "hunyuan_video": ("hunyuan_video_t2v_720p_bf16.safetensors", "diffusion_model", {
        "txt_in.individual_token_refiner.blocks.0.norm1.weight": ("BF16", [3072]),
        "txt_in.input_embedder.weight": ("BF16", [3072, 4096]),
        "img_in.proj.weight": ("BF16", [3072, 16, 1, 2, 2]),
        "double_blocks.0.img_attn.norm.key_norm.scale": ("BF16", [128]),
        "double_blocks.0.img_attn.qkv.weight": ("BF16", [9216, 3072]),
        "double_blocks.0.img_mlp.fc1.weight": ("BF16", [12288, 3072]),
        "single_blocks.0.linear1.weight": ("BF16", [21504, 3072]),
        "vector_in.in_layer.weight": ("BF16", [3072, 768]),
        "guidance_in.in_layer.weight": ("BF16", [3072, 256]),
        "final_layer.linear.weight": ("BF16", [64, 3072]),
    }),
    "ltxv": ("ltx-video-2b-v0.9.5.safetensors", "checkpoint", {
        "model.diffusion_model.adaln_single.emb.timestep_embedder.linear_1.bias": ("BF16", [2048]),
        "model.diffusion_model.adaln_single.linear.weight": ("BF16", [12288, 2048]),
        "model.diffusion_model.patchify_proj.weight": ("BF16", [2048, 128]),
        "model.diffusion_model.caption_projection.linear_1.weight": ("BF16", [2048, 4096]),
        "model.diffusion_model.transformer_blocks.0.attn1.to_k.weight": ("BF16", [2048, 2048]),
        "model.diffusion_model.transformer_blocks.0.attn2.to_k.weight": ("BF16", [2048, 2048]),
        "model.diffusion_model.proj_out.weight": ("BF16", [128, 2048]),
        "vae.decoder.up_blocks.0.res_blocks.0.conv1.conv.weight": ("BF16", [1024, 1024, 3, 3, 3]),
        "vae.encoder.conv_in.conv.weight": ("BF16", [128, 48, 3, 3, 3]),
    }),
    "qwen_image": ("qwen_image_bf16.safetensors", "diffusion_model", {
        "txt_norm.weight": ("BF16", [3584]),
        "img_in.weight": ("BF16", [3072, 64]),
        "txt_in.weight": ("BF16", [3072, 3584]),
        "transformer_blocks.0.attn.add_k_proj.weight": ("BF16", [3072, 3072]),
        "transformer_blocks.0.attn.to_k.weight": ("BF16", [3072, 3072]),
        "transformer_blocks.0.img_mlp.net.0.proj.weight": ("BF16", [12288, 3072]),
        "transformer_blocks.0.txt_mod.1.weight": ("BF16", [18432, 3072]),
        "time_text_embed.timestep_embedder.linear_1.weight": ("BF16", [3072, 256]),
        "proj_out.weight": ("BF16", [64, 3072]),
    }),
    "hidream": ("hidream_i1_full_fp16.safetensors", "diffusion_model", {
        "caption_projection.0.linear.weight": ("F16", [2560, 4096]),
        "caption_projection.48.linear.weight": ("F16", [2560, 2048]),
        "x_embedder.proj.weight": ("F16", [2560, 64]),
        "t_embedder.timestep_embedder.linear_1.weight": ("F16", [2560, 256]),
        "p_embedder.pooled_embedder.linear_1.weight": ("F16", [2560, 2048]),
        "double_stream_blocks.0.block.attn1.to_q.weight": ("F16", [2560, 2560]),
        "single_stream_blocks.0.block.attn1.to_q.weight": ("F16", [2560, 2560]),
        "final_layer.linear.weight": ("F16", [64, 2560]),
    }),
}

# Companion files: name → (expected role, expected family when the header alone decides it, header).
PART_FILES: dict[str, tuple[str, str | None, Header]] = {
    # black-forest-labs/FLUX.1-schnell: ae.safetensors
    "ae.safetensors": ("vae", None, {
        "decoder.conv_in.weight": ("F32", [512, 16, 3, 3]),
        "decoder.conv_out.weight": ("F32", [3, 128, 3, 3]),
        "encoder.conv_in.weight": ("F32", [128, 3, 3, 3]),
        "encoder.conv_out.weight": ("F32", [32, 512, 3, 3]),
    }),
    # Comfy-Org/Wan_2.1_ComfyUI_repackaged: split_files/vae/wan_2.1_vae.safetensors
    "wan_2.1_vae.safetensors": ("vae", None, {
        "decoder.middle.0.residual.0.gamma": ("F16", [384, 1, 1, 1]),
        "decoder.conv1.weight": ("F16", [384, 16, 3, 3, 3]),
        "encoder.conv1.weight": ("F16", [96, 3, 3, 3, 3]),
    }),
    # comfyanonymous/flux_text_encoders: t5xxl_fp16.safetensors
    "t5xxl_fp16.safetensors": ("text_encoder", None, {
        "encoder.block.0.layer.0.SelfAttention.k.weight": ("F16", [4096, 4096]),
        "encoder.block.23.layer.1.DenseReluDense.wi_1.weight": ("F16", [10240, 4096]),
        "shared.weight": ("F16", [32128, 4096]),
    }),
    # Comfy-Org/Wan_2.1_ComfyUI_repackaged: umt5_xxl_fp16.safetensors
    "umt5_xxl_fp16.safetensors": ("text_encoder", "wan", {
        "encoder.block.0.layer.0.SelfAttention.k.weight": ("F16", [4096, 4096]),
        "encoder.block.23.layer.1.DenseReluDense.wi_1.weight": ("F16", [10240, 4096]),
        "shared.weight": ("F16", [256384, 4096]),
    }),
    # comfyanonymous/flux_text_encoders: clip_l.safetensors
    "clip_l.safetensors": ("text_encoder", None, {
        "text_model.encoder.layers.0.mlp.fc1.weight": ("F16", [3072, 768]),
        "text_model.embeddings.token_embedding.weight": ("F16", [49408, 768]),
    }),
    # Comfy-Org/Qwen-Image_ComfyUI: qwen_2.5_vl_7b.safetensors
    "qwen_2.5_vl_7b.safetensors": ("text_encoder", "qwen_image", {
        "model.layers.0.self_attn.k_proj.bias": ("BF16", [512]),
        "model.layers.0.self_attn.k_proj.weight": ("BF16", [512, 3584]),
        "model.layers.0.post_attention_layernorm.weight": ("BF16", [3584]),
        "model.embed_tokens.weight": ("BF16", [152064, 3584]),
    }),
    # lllyasviel/ControlNet-v1-1: control_v11p_sd15_canny.pth (converted to safetensors by Comfy-Org)
    "control_v11p_sd15_canny_fp16.safetensors": ("controlnet", None, {
        "input_hint_block.0.weight": ("F16", [16, 3, 3, 3]),
        "input_blocks.0.0.weight": ("F16", [320, 4, 3, 3]),
        "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": ("F16", [320, 768]),
        "zero_convs.0.0.weight": ("F16", [320, 320, 1, 1]),
    }),
    # xinntao/Real-ESRGAN release: RealESRGAN_x4plus (safetensors conversion)
    "RealESRGAN_x4plus.safetensors": ("upscaler", None, {
        "conv_first.weight": ("F32", [64, 3, 3, 3]),
        "body.0.rdb1.conv1.weight": ("F32", [32, 64, 3, 3]),
        "conv_up1.weight": ("F32", [64, 64, 3, 3]),
    }),
}

# A kohya-ss/sd-scripts SDXL LoRA: the key names and __metadata__ that train_network.py writes
# (networks/lora.py: lora_unet_<sgm module path>, lora_te1_/lora_te2_ for the two text encoders).
KOHYA_SDXL_LORA: tuple[Header, dict[str, str]] = ({
    "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.alpha": ("F16", []),
    "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight": ("F16", [32, 2048]),
    "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_up.weight": ("F16", [640, 32]),
    "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_down.weight": ("F16", [32, 640]),
    "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_up.weight": ("F16", [640, 32]),
    "lora_unet_output_blocks_0_1_transformer_blocks_0_ff_net_0_proj.lora_down.weight": ("F16", [32, 1280]),
    "lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": ("F16", [32, 768]),
    "lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": ("F16", [32, 1280]),
}, {
    "ss_base_model_version": "sdxl_base_v1-0",
    "ss_network_module": "networks.lora",
    "ss_network_dim": "32",
    "ss_network_alpha": "16",
    "ss_sd_model_name": "sd_xl_base_1.0.safetensors",
    "ss_v2": "False",
    "modelspec.architecture": "stable-diffusion-xl-v1-base/lora",
})

# Other LoRA layouts (no base-model metadata: the key names must tell).
LORA_FILES: dict[str, tuple[str, Header]] = {
    # kohya SD 1.5 LoRA (diffusers module names)
    "sd15": ("lora_sd15_kohya.safetensors", {
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": ("F16", [8, 768]),
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight": ("F16", [320, 8]),
        "lora_te_text_model_encoder_layers_0_self_attn_k_proj.lora_down.weight": ("F16", [8, 768]),
    }),
    # ostris/ai-toolkit Flux LoRA (diffusers/PEFT names)
    "flux": ("flux_lora_aitoolkit.safetensors", {
        "transformer.single_transformer_blocks.0.attn.to_k.lora_A.weight": ("BF16", [16, 3072]),
        "transformer.single_transformer_blocks.0.attn.to_k.lora_B.weight": ("BF16", [3072, 16]),
        "transformer.transformer_blocks.0.attn.to_k.lora_A.weight": ("BF16", [16, 3072]),
    }),
    # lightx2v Wan LoRA (ComfyUI diffusion_model.* names)
    "wan": ("wan_lightx2v_lora.safetensors", {
        "diffusion_model.blocks.0.cross_attn.k.lora_A.weight": ("BF16", [64, 5120]),
        "diffusion_model.blocks.0.cross_attn.k.lora_B.weight": ("BF16", [5120, 64]),
        "diffusion_model.blocks.0.self_attn.q.lora_A.weight": ("BF16", [64, 5120]),
    }),
    # musubi-tuner HunyuanVideo LoRA (kohya-style names over the ComfyUI module path)
    "hunyuan_video": ("hunyuan_video_lora.safetensors", {
        "lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight": ("BF16", [32, 3072]),
        "lora_unet_double_blocks_0_img_mlp_fc1.lora_down.weight": ("BF16", [32, 3072]),
        "lora_unet_double_blocks_0_img_mod_linear.lora_down.weight": ("BF16", [32, 3072]),
    }),
    # Qwen-Image LoRA (diffusers names)
    "qwen_image": ("qwen_image_lora.safetensors", {
        "transformer_blocks.0.img_mlp.net.0.proj.lora_A.weight": ("BF16", [16, 3072]),
        "transformer_blocks.0.attn.add_k_proj.lora_A.weight": ("BF16", [16, 3072]),
    }),
}


def write_sparse_safetensors(path: Path, tensors: Header, metadata: dict[str, str] | None = None) -> Path:
    """Write a valid safetensors file for ``tensors`` whose data section has the full size but is a
    hole on disk (seek to the end, write one byte): headers and offsets are real, the file is tiny."""
    doc: dict[str, object] = {}
    if metadata:
        doc["__metadata__"] = metadata
    offset = 0
    for name, (dtype, shape) in tensors.items():
        size = DTYPE_BYTES[dtype] * math.prod(shape)
        doc[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(doc).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(raw)))
        fh.write(raw)
        if offset:
            fh.seek(8 + len(raw) + offset - 1)
            fh.write(b"\0")
    return path


def write_gguf(path: Path, arch: str, tensors: dict[str, list[int]]) -> Path:
    """A minimal GGUF v3 file: ``general.architecture``, tensor infos (dims in ggml order) and a sparse data section."""
    def s(text: str) -> bytes:
        b = text.encode()
        return struct.pack("<Q", len(b)) + b

    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), 2)
    out += s("general.architecture") + struct.pack("<I", 8) + s(arch)
    out += s("general.file_type") + struct.pack("<I", 4) + struct.pack("<I", 8)
    for name, shape in tensors.items():
        out += s(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in reversed(shape))
        out += struct.pack("<IQ", 8, 0)
    path.write_bytes(out)
    with path.open("r+b") as fh:  # the Q8_0 data section (34 bytes per 32 weights) as a hole
        fh.truncate(len(out) + sum(-(-math.prod(shape) // 32) * 34 for shape in tensors.values()))
    return path
