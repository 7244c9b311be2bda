#pragma once

#include <cstdint>

namespace ullm::kernels {

enum class RopeStyle {
  Adjacent,  // rotates pairs (2i, 2i+1): GGML's "normal" mode, used by llama
  Neox,      // rotates pairs (i, i + n_rot/2): GPT-NeoX style, used by qwen2/3, phi3, gemma
};

// Rotates the first n_rot dimensions of each of n_heads vectors of head_dim
// floats by position `pos`; dimensions past n_rot are left as they are.
// Angles follow ggml: theta_i = pos * base^(-2i/n_rot), built by repeated
// multiplication in float.
void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int64_t pos, float freq_base, RopeStyle style);

}  // namespace ullm::kernels
