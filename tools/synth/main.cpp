// ullm-synth: write a random-weight llama-architecture GGUF of a real model's
// shape, so kernels and whole models can be benchmarked at size without
// downloading anything. The tokenizer is copied from a given GGUF.
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <map>

#include "cli.hpp"
#include "kernels/type_traits.hpp"
#include "ullm/ullm.hpp"

namespace {

struct Shape {
  int dim, ffn, layers, heads, kv_heads, vocab, ctx;
  float rope_base;
  bool tied;
};

const std::map<std::string, Shape> kPresets = {
    {"stories15M", {288, 768, 6, 6, 6, 32000, 256, 10000.0f, false}},
    {"stories110M", {768, 2048, 12, 12, 12, 32000, 1024, 10000.0f, false}},
    {"smollm2-135m", {576, 1536, 30, 9, 3, 49152, 8192, 100000.0f, true}},
    {"tinyllama-1.1b", {2048, 5632, 22, 32, 4, 32000, 2048, 10000.0f, false}},
};

// A weight type choice as llama-quantize makes it: the type of most
// matrices, llama.cpp's general.file_type, and for the K-quant mixes ("_m")
// the output head and the extra-bits layers' attn_v / ffn_down in Q6_K.
using ullm::DType;

struct Recipe {
  const char* name;
  DType main;
  uint32_t file_type;
  bool mix = false;
};

const Recipe kRecipes[] = {
    {"f32", DType::F32, 0},
    {"f16", DType::F16, 1},
    {"bf16", DType::BF16, 32},
    {"q8_0", DType::Q8_0, 7},
    {"q4_0", DType::Q4_0, 2},
    {"q4_1", DType::Q4_1, 3},
    {"q5_0", DType::Q5_0, 8},
    {"q5_1", DType::Q5_1, 9},
    {"q4_k", DType::Q4_K, 14},
    {"q5_k", DType::Q5_K, 16},
    {"q6_k", DType::Q6_K, 18},
    {"q4_k_m", DType::Q4_K, 15, true},
    {"q5_k_m", DType::Q5_K, 17, true},
};

// llama-quantize gives these layers more bits in its "_m" mixes.
bool uses_more_bits(int layer, int layers) {
  return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
}

// The type a tensor gets, with llama-quantize's fallbacks for rows that are
// not whole blocks (K-quants to the nearest 32-block type, others to F16).
DType tensor_type(const Recipe& r, const std::string& name, int64_t row_length, int layers) {
  DType t = r.main;
  if (r.mix) {
    int layer = -1;
    std::sscanf(name.c_str(), "blk.%d.", &layer);
    const bool more = name.find("attn_v") != std::string::npos || name.find("ffn_down") != std::string::npos;
    if (name == "output.weight" || (more && layer >= 0 && uses_more_bits(layer, layers))) t = DType::Q6_K;
  }
  if (row_length % ullm::dtype_info(t).block_size == 0) return t;
  switch (t) {
    case DType::Q4_K:
      return DType::Q5_0;
    case DType::Q5_K:
      return DType::Q5_1;
    case DType::Q6_K:
      return DType::Q8_0;
    default:
      return DType::F16;
  }
}

template <typename T>
ullm::gguf::Value value(T v) {
  return ullm::gguf::Value{ullm::gguf::Value::Storage(std::in_place_type<T>, std::move(v))};
}

// Fast uniform noise with the standard deviation asked for: the weights only
// need the right shape and scale, not a particular distribution.
class Noise {
 public:
  explicit Noise(uint64_t seed) : state_(seed) {}
  float next(float stddev) {
    state_ += 0x9e3779b97f4a7c15ull;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    const double u = static_cast<double>(z >> 11) * 0x1p-53;  // [0, 1)
    return static_cast<float>((2.0 * u - 1.0) * std::sqrt(3.0) * stddev);
  }

 private:
  uint64_t state_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string like, type_name = "q8_0", tokenizer_path = "../shared/reference/tokenizer/ggml-vocab-llama-spm.gguf",
                    out_path;
  int dim = 0, ffn = 0, layers = 0, heads = 0, kv_heads = 0, vocab = 0, ctx = 0;
  float rope_base = 0;
  uint64_t seed = 1;
  bool tied = false, untied = false;
  std::string presets;
  for (const auto& [name, s] : kPresets) presets += (presets.empty() ? "" : "|") + name;
  ullm::cli::ArgParser args("ullm-synth", "Write a random-weight llama-architecture GGUF of any shape.");
  args.option({"--like"}, &like, "NAME", "start from a real model's shape: " + presets);
  args.option({"--dim"}, &dim, "N", "embedding width");
  args.option({"--ffn"}, &ffn, "N", "feed-forward width");
  args.option({"--layers"}, &layers, "N", "blocks");
  args.option({"--heads"}, &heads, "N", "attention heads");
  args.option({"--kv-heads"}, &kv_heads, "N", "key/value heads (default: heads)");
  args.option({"--vocab"}, &vocab, "N", "vocabulary size (default: the tokenizer's); extra entries are unused tokens");
  args.option({"--ctx"}, &ctx, "N", "context length (default: 2048)");
  args.option({"--rope-base"}, &rope_base, "F", "RoPE frequency base (default: 10000)");
  args.flag({"--tied"}, &tied, "share the output head with the token embeddings");
  args.flag({"--untied"}, &untied, "write a separate output head (overrides a preset's tying)");
  std::string recipes;
  for (const Recipe& r : kRecipes) recipes += fmt::format("{}{}", recipes.empty() ? "" : ", ", r.name);
  args.option({"--type"}, &type_name, "TYPE", "weight type: " + recipes + " (default: q8_0)");
  args.option({"--tokenizer"}, &tokenizer_path, "PATH",
              "GGUF to copy tokenizer.* keys from (default: llama SPM vocab)");
  args.option({"--seed"}, &seed, "S", "random seed (default: 1)");
  args.option({"-o", "--output"}, &out_path, "PATH", "the GGUF file to write (required)");
  args.parse(argc, argv);
  const Recipe* recipe = nullptr;
  for (const Recipe& r : kRecipes) {
    if (type_name == r.name) recipe = &r;
  }
  if (recipe == nullptr) args.usage_error(fmt::format("unknown --type '{}' ({})", type_name, recipes));

  return ullm::cli::run_main("ullm-synth", [&] {
    if (out_path.empty()) throw ullm::InvalidArgument("-o PATH is required");
    Shape s{0, 0, 0, 0, 0, 0, 2048, 10000.0f, false};
    if (!like.empty()) {
      const auto it = kPresets.find(like);
      if (it == kPresets.end()) throw ullm::InvalidArgument(fmt::format("unknown --like '{}' ({})", like, presets));
      s = it->second;
    }
    if (dim) s.dim = dim;
    if (ffn) s.ffn = ffn;
    if (layers) s.layers = layers;
    if (heads) s.heads = heads;
    if (kv_heads) s.kv_heads = kv_heads;
    if (ctx) s.ctx = ctx;
    if (rope_base > 0) s.rope_base = rope_base;
    if (tied) s.tied = true;
    if (untied) s.tied = false;
    if (s.kv_heads == 0) s.kv_heads = s.heads;
    if (s.dim <= 0 || s.ffn <= 0 || s.layers <= 0 || s.heads <= 0) {
      throw ullm::InvalidArgument("give --like or all of --dim, --ffn, --layers, --heads");
    }
    if (s.dim % s.heads != 0 || s.heads % s.kv_heads != 0) {
      throw ullm::InvalidArgument(
          fmt::format("dim {} must be a multiple of heads {}, and heads of kv-heads {}", s.dim, s.heads, s.kv_heads));
    }
    ullm::gguf::Writer w;
    const ullm::gguf::File tok = ullm::gguf::File::open(tokenizer_path);
    for (const auto& kv : tok.metadata()) {
      if (kv.key.starts_with("tokenizer.")) w.set(kv.key, kv.value);
    }
    const ullm::gguf::Value* tokens = tok.find("tokenizer.ggml.tokens");
    if (tokens == nullptr) throw ullm::FormatError(fmt::format("{}: has no tokenizer.ggml.tokens", tokenizer_path));
    const auto source_vocab = static_cast<int>(tokens->as_array("tokenizer.ggml.tokens").items.size());
    s.vocab = vocab > 0 ? vocab : (like.empty() ? source_vocab : s.vocab);
    if (s.vocab < source_vocab) {
      throw ullm::InvalidArgument(fmt::format("--vocab {} is smaller than the tokenizer's {}", s.vocab, source_vocab));
    }
    if (s.vocab > source_vocab) {  // pad with unused tokens, as some real vocabularies are
      for (const char* key : {"tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type"}) {
        const ullm::gguf::Value* v = tok.find(key);
        if (v == nullptr) continue;
        ullm::gguf::Array a = v->as_array(key);
        for (int i = source_vocab; i < s.vocab; ++i) {
          if (a.element_type == ullm::gguf::ValueType::String)
            a.items.push_back(value<std::string>(fmt::format("<unused{}>", i)));
          if (a.element_type == ullm::gguf::ValueType::F32) a.items.push_back(value<float>(0.0f));
          if (a.element_type == ullm::gguf::ValueType::I32) a.items.push_back(value<int32_t>(5));
        }
        w.set(key, value<ullm::gguf::Array>(std::move(a)));
      }
    }

    const int head_dim = s.dim / s.heads;
    w.set("general.architecture", value<std::string>("llama"));
    w.set("general.name", value<std::string>(like.empty() ? "ullm-synth" : "ullm-synth-" + like));
    w.set("general.file_type", value<uint32_t>(recipe->file_type));
    w.set("llama.context_length", value<uint32_t>(static_cast<uint32_t>(s.ctx)));
    w.set("llama.embedding_length", value<uint32_t>(static_cast<uint32_t>(s.dim)));
    w.set("llama.block_count", value<uint32_t>(static_cast<uint32_t>(s.layers)));
    w.set("llama.feed_forward_length", value<uint32_t>(static_cast<uint32_t>(s.ffn)));
    w.set("llama.attention.head_count", value<uint32_t>(static_cast<uint32_t>(s.heads)));
    w.set("llama.attention.head_count_kv", value<uint32_t>(static_cast<uint32_t>(s.kv_heads)));
    w.set("llama.attention.layer_norm_rms_epsilon", value<float>(1e-5f));
    w.set("llama.rope.freq_base", value<float>(s.rope_base));
    w.set("llama.rope.dimension_count", value<uint32_t>(static_cast<uint32_t>(head_dim)));
    w.set("llama.vocab_size", value<uint32_t>(static_cast<uint32_t>(s.vocab)));

    Noise noise(seed);
    const bool progress = ::isatty(2) != 0;  // a progress line only where someone watches it
    int written = 0;
    const int total = 2 + (s.tied ? 0 : 1) + 9 * s.layers;
    const auto add = [&](const std::string& name, std::vector<int64_t> shape, bool matrix) {
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      std::vector<float> data(static_cast<size_t>(n));
      const float stddev = matrix ? 1.0f / std::sqrt(static_cast<float>(shape[0])) : 0.05f;
      for (auto& x : data) x = (matrix ? 0.0f : 1.0f) + noise.next(stddev);
      const DType t = matrix ? tensor_type(*recipe, name, shape[0], s.layers) : DType::F32;
      std::vector<std::byte> bytes(ullm::kernels::row_size(t, n));
      ullm::kernels::type_kernels(t)->from_float(data.data(), bytes.data(), n);
      w.add_tensor(name, t, shape, bytes);
      ++written;
      if (progress) fmt::print(stderr, "\rullm-synth: {:3d}% ({}/{} tensors)", 100 * written / total, written, total);
    };
    add("token_embd.weight", {s.dim, s.vocab}, true);
    add("output_norm.weight", {s.dim}, false);
    if (!s.tied) add("output.weight", {s.dim, s.vocab}, true);
    for (int l = 0; l < s.layers; ++l) {
      const std::string p = fmt::format("blk.{}.", l);
      add(p + "attn_norm.weight", {s.dim}, false);
      add(p + "attn_q.weight", {s.dim, s.heads * head_dim}, true);
      add(p + "attn_k.weight", {s.dim, s.kv_heads * head_dim}, true);
      add(p + "attn_v.weight", {s.dim, s.kv_heads * head_dim}, true);
      add(p + "attn_output.weight", {s.heads * head_dim, s.dim}, true);
      add(p + "ffn_norm.weight", {s.dim}, false);
      add(p + "ffn_gate.weight", {s.dim, s.ffn}, true);
      add(p + "ffn_up.weight", {s.dim, s.ffn}, true);
      add(p + "ffn_down.weight", {s.ffn, s.dim}, true);
    }
    if (progress) fmt::print(stderr, "\n");
    w.write(out_path);
    fmt::print(stderr, "ullm-synth: wrote {} (dim {}, ffn {}, {} layers, {}/{} heads, vocab {}, {})\n", out_path, s.dim,
               s.ffn, s.layers, s.heads, s.kv_heads, s.vocab, type_name);
    return 0;
  });
}
