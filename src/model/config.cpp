// Hyper-parameters from GGUF metadata, per architecture. Each architecture is
// a small entry in a table, not a copy of the forward pass.
#include <fmt/format.h>
#include <cmath>
#include <optional>

#include "kernels/attention.hpp"
#include "model/model_data.hpp"
#include "ullm/error.hpp"

namespace ullm {
namespace {

class MetadataReader {
 public:
  MetadataReader(const gguf::File& file, std::string prefix) : file_(file), prefix_(std::move(prefix)) {}

  const gguf::Value* find(std::string_view key) const { return file_.find(prefix_ + std::string(key)); }

  // An integer in [lo, hi]; `fallback` when absent, or an error if there is none.
  int64_t integer(std::string_view key, int64_t lo, int64_t hi, std::optional<int64_t> fallback = {}) const {
    const std::string full = prefix_ + std::string(key);
    const gguf::Value* v = file_.find(full);
    if (v == nullptr) {
      if (fallback) return *fallback;
      throw FormatError(fmt::format("{}: missing required key '{}'", file_.path().string(), full));
    }
    const int64_t x = v->as_int(full);
    if (x < lo || x > hi) {
      throw FormatError(fmt::format("{}: {} = {} is outside [{}, {}]", file_.path().string(), full, x, lo, hi));
    }
    return x;
  }

  float real(std::string_view key, double lo, double hi, std::optional<double> fallback = {}) const {
    const std::string full = prefix_ + std::string(key);
    const gguf::Value* v = file_.find(full);
    if (v == nullptr) {
      if (fallback) return static_cast<float>(*fallback);
      throw FormatError(fmt::format("{}: missing required key '{}'", file_.path().string(), full));
    }
    const double x = v->as_double(full);
    if (!std::isfinite(x) || x < lo || x > hi) {
      throw FormatError(fmt::format("{}: {} = {} is outside [{}, {}]", file_.path().string(), full, x, lo, hi));
    }
    return static_cast<float>(x);
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError(fmt::format("{}: {}", file_.path().string(), what));
  }

 private:
  const gguf::File& file_;
  std::string prefix_;
};

// The keys every llama-like decoder shares.
void read_decoder_keys(const MetadataReader& md, ModelConfig& c) {
  constexpr int64_t kMaxWidth = int64_t{1} << 17;
  c.context_length = md.integer("context_length", 1, int64_t{1} << 24);
  c.n_embd = md.integer("embedding_length", 1, kMaxWidth);
  c.n_layer = md.integer("block_count", 1, 4096);
  c.n_ff = md.integer("feed_forward_length", 1, kMaxWidth * 8);
  c.n_head = md.integer("attention.head_count", 1, 4096);
  c.n_head_kv = md.integer("attention.head_count_kv", 1, c.n_head, c.n_head);
  if (c.n_head % c.n_head_kv != 0) {
    md.fail(fmt::format("head_count {} is not a multiple of head_count_kv {}", c.n_head, c.n_head_kv));
  }
  if (c.n_embd % c.n_head != 0 && md.find("attention.key_length") == nullptr) {
    md.fail(fmt::format("embedding_length {} is not a multiple of head_count {}", c.n_embd, c.n_head));
  }
  c.head_dim = md.integer("attention.key_length", 1, kernels::kMaxHeadDim, c.n_embd / c.n_head);
  const int64_t value_dim = md.integer("attention.value_length", 1, 4096, c.head_dim);
  if (value_dim != c.head_dim) {
    md.fail(fmt::format("attention.value_length {} differs from key_length {}", value_dim, c.head_dim));
  }
  c.n_rot = md.integer("rope.dimension_count", 2, c.head_dim, c.head_dim);
  if (c.n_rot % 2 != 0) md.fail(fmt::format("rope.dimension_count {} is odd", c.n_rot));
  c.norm_eps = md.real("attention.layer_norm_rms_epsilon", 0.0, 1.0);
  c.rope_freq_base = md.real("rope.freq_base", 1e-3, 1e12, 10000.0);
  // Llama 3's frequency scaling comes as the rope_freqs tensor (see model.cpp);
  // linear scaling as a factor here.
  if (const gguf::Value* type = md.find("rope.scaling.type")) {
    const std::string kind = type->as_string("rope.scaling.type");
    if (kind == "linear") {
      c.rope_freq_scale = 1.0f / md.real("rope.scaling.factor", 1e-3, 1e6);
    } else if (kind != "none") {
      throw UnsupportedError(fmt::format("rope scaling type '{}' is not supported (supported: none, linear)", kind));
    }
  }
}

struct Architecture {
  std::string_view name;
  void (*configure)(const MetadataReader& md, ModelConfig& c);
};

// Each architecture: the shared keys plus what sets it apart (llama.cpp's
// llm_build_* for that architecture is the reference).
const Architecture kArchitectures[] = {
    {"llama", [](const MetadataReader& md, ModelConfig& c) { read_decoder_keys(md, c); }},
    {"qwen2",
     [](const MetadataReader& md, ModelConfig& c) {
       read_decoder_keys(md, c);
       c.rope_neox = true;
       c.qkv_bias = true;
     }},
    {"qwen3",
     [](const MetadataReader& md, ModelConfig& c) {
       read_decoder_keys(md, c);
       c.rope_neox = true;
       c.qk_norm = true;
     }},
    {"gemma3",
     [](const MetadataReader& md, ModelConfig& c) {
       read_decoder_keys(md, c);
       c.rope_neox = true;
       c.qk_norm = true;
       c.post_norms = true;
       c.gelu_ffn = true;
       c.embedding_scale = std::sqrt(static_cast<float>(c.n_embd));
       c.query_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
       c.attention_scale = 1.0f;
       c.sliding_window = md.integer("attention.sliding_window", 0, int64_t{1} << 24, 0);
       c.sliding_window_pattern = md.integer("attention.sliding_window_pattern", 1, 4096, 6);
       c.rope_freq_base_swa = md.real("rope.freq_base_swa", 1e-3, 1e12, 10000.0);
     }},
    {"phi3",
     [](const MetadataReader& md, ModelConfig& c) {
       read_decoder_keys(md, c);
       c.rope_neox = true;
       c.fused_qkv = true;
       c.fused_gate_up = true;
     }},
};

}  // namespace

ModelConfig read_config(const gguf::File& file) {
  const gguf::Value* arch = file.find("general.architecture");
  if (arch == nullptr) {
    throw FormatError(fmt::format("{}: missing required key 'general.architecture'", file.path().string()));
  }
  ModelConfig c;
  c.architecture = arch->as_string("general.architecture");
  if (const gguf::Value* name = file.find("general.name"); name != nullptr && name->type() == gguf::ValueType::String) {
    c.name = name->as_string("general.name");
  }
  for (const Architecture& a : kArchitectures) {
    if (a.name == c.architecture) {
      a.configure(MetadataReader(file, c.architecture + "."), c);
      return c;
    }
  }
  std::string known;
  for (const Architecture& a : kArchitectures) known += (known.empty() ? "" : ", ") + std::string(a.name);
  throw UnsupportedError(fmt::format("{}: architecture '{}' is not supported (supported: {})", file.path().string(),
                                     c.architecture, known));
}

int64_t ModelConfig::n_params() const {
  const int64_t attn = n_embd * head_dim * (2 * n_head + 2 * n_head_kv);
  const int64_t ffn = 3 * n_embd * n_ff;
  return n_vocab * n_embd * (tied_embeddings ? 1 : 2) + n_layer * (attn + ffn + 2 * n_embd) + n_embd;
}

}  // namespace ullm
