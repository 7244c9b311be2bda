// A loaded model: configuration, weights (zero-copy views into the mapped
// GGUF file) and tokenizer. Immutable after load; a Model is a cheap handle
// that may be copied and shared by any number of Sessions on any threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ullm/gguf.hpp"
#include "ullm/tokenizer.hpp"

namespace ullm {

// Hyper-parameters read from `<architecture>.*` metadata.
struct ModelConfig {
  std::string architecture;  // general.architecture
  std::string name;          // general.name, may be empty
  int64_t n_vocab = 0;
  int64_t n_embd = 0;  // width of the residual stream
  int64_t n_layer = 0;
  int64_t n_ff = 0;  // feed-forward hidden width
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;        // attention.key_length
  int64_t n_rot = 0;           // rope.dimension_count: leading dims of each head that RoPE rotates
  int64_t context_length = 0;  // the context the model was trained for
  float norm_eps = 1e-5f;
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // 1 / rope.scaling.factor for linear scaling
  bool rope_neox = false;        // rotate (i, i + n_rot/2) pairs instead of adjacent ones
  bool tied_embeddings = false;
  // Architecture features of the generic decoder block:
  bool qkv_bias = false;         // q, k, v projections have biases (qwen2; optional elsewhere)
  bool qk_norm = false;          // per-head RMSNorm of q and k before RoPE (qwen3)
  bool fused_qkv = false;        // one attn_qkv weight, rows [q | k | v] (phi3)
  bool fused_gate_up = false;    // ffn_up holds rows [gate | up], no ffn_gate (phi3)
  bool post_norms = false;       // RMSNorm of the attention and FFN outputs before each residual add (gemma3)
  bool gelu_ffn = false;         // GELU(tanh)-gated feed-forward instead of SwiGLU (gemma3)
  float embedding_scale = 1.0f;  // token embeddings are multiplied by it (gemma3: sqrt(n_embd))
  float query_scale = 1.0f;      // q is multiplied by it after RoPE (gemma3: 1/sqrt(head_dim))
  float attention_scale = 0.0f;  // q.k is multiplied by it; 0: 1/sqrt(head_dim)
  // Sliding-window attention: layer l sees only the last `sliding_window`
  // positions (its own included) when l % sliding_window_pattern <
  // sliding_window_pattern - 1, and uses rope_freq_base_swa. 0: none.
  int64_t sliding_window = 0;
  int64_t sliding_window_pattern = 1;
  float rope_freq_base_swa = 10000.0f;
  bool is_sliding(int64_t layer) const {
    return sliding_window > 0 && layer % sliding_window_pattern < sliding_window_pattern - 1;
  }

  int64_t n_params() const;
};

struct LoadOptions {
  // The SIMD kernels to compute with: "scalar", "sse4", "avx2", "avxvnni"
  // (AVX2 with AVX-VNNI), "avx512" (with VNNI).
  // Empty: the ULLM_ARCH environment variable if set, else the best this CPU runs.
  std::string kernel_target;
  // Keep the weight matrices the kernels can read faster in another order
  // (Q4_0, Q5_0 and K-quants with the avx2, avxvnni and avx512 kernels; Q8_0 with
  // avx512 when all of them fit in the last-level cache) as a copy in that
  // order. The copy is made once, on all cores, by the first evaluation of
  // fewer than 16 or at least 64 tokens (decode, or a long prompt), not at
  // load: a short prompt reads the file about as fast, so the first
  // generated token does not wait for it. The file's pages are
  // released as they are copied, so resident memory stays about the file's
  // size (without the memory for the copy, the mapped file is used). false:
  // use the mapped file only (slower decode). Results are the same bits
  // either way.
  bool repack_weights = true;
};

class Model {
 public:
  // Maps and validates a GGUF file. Throws IoError, FormatError (malformed
  // file, missing key or tensor, wrong shape), UnsupportedError (unknown
  // architecture, tokenizer or tensor type; a kernel target this CPU cannot
  // run) or InvalidArgument (an unknown kernel target name).
  static Model load(const std::filesystem::path& path, const LoadOptions& options = {});

  const ModelConfig& config() const;
  const Tokenizer& tokenizer() const;
  const gguf::File& file() const;
  // The kernel target in use, e.g. "avx512" or "scalar".
  const std::string& kernel_target() const;
  // Better targets this CPU runs that an automatic choice passed over
  // because they failed the load-time self-check against the scalar
  // reference kernels, each with the first kernel that differed, e.g.
  // "avx512 disagrees with the scalar reference kernels on this CPU (first
  // in: RMSNorm)". Empty when the best target was taken, or one was forced.
  // Worth a report: the tests never ran on such a CPU.
  const std::vector<std::string>& refused_kernel_targets() const;

  struct Data;
  const Data& data() const { return *data_; }

 private:
  explicit Model(std::shared_ptr<const Data> data) : data_(std::move(data)) {}
  std::shared_ptr<const Data> data_;
  friend class Session;
};

}  // namespace ullm
