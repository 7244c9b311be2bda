// ullm-synth: write a random-weight llama-architecture GGUF of a real model's
// shape, so kernels and whole models can be benchmarked at size without
// downloading anything. The tokenizer is copied from a given GGUF.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numbers>

#include "cli.hpp"
#include "kernels/type_traits.hpp"
#include "ullm/ullm.hpp"

namespace {

struct Shape {
  std::string arch;
  int dim, ffn, layers, heads, kv_heads, vocab, ctx;
  float rope_base;
  bool tied;
  int head_dim = 0;          // 0: dim / heads
  int sliding_window = 0;    // gemma3: window of its sliding layers
  bool llama3_rope = false;  // write Llama 3's rope_freqs
  // The family's vocabulary in ../shared/reference/tokenizer (default for --tokenizer).
  const char* tokenizer = "ggml-vocab-llama-spm.gguf";
};

// Real models' shapes (their config.json as llama.cpp converts it).
const std::map<std::string, Shape> kPresets = {
    {"stories15M", {"llama", 288, 768, 6, 6, 6, 32000, 256, 10000.0f, false}},
    {"stories110M", {"llama", 768, 2048, 12, 12, 12, 32000, 1024, 10000.0f, false}},
    {"smollm2-135m",
     {"llama", 576, 1536, 30, 9, 3, 49152, 8192, 100000.0f, true, 0, 0, false, "ggml-vocab-smollm.gguf"}},
    {"smollm2-360m",
     {"llama", 960, 2560, 32, 15, 5, 49152, 8192, 100000.0f, true, 0, 0, false, "ggml-vocab-smollm.gguf"}},
    {"tinyllama-1.1b", {"llama", 2048, 5632, 22, 32, 4, 32000, 2048, 10000.0f, false}},
    {"llama-3.2-1b",
     {"llama", 2048, 8192, 16, 32, 8, 128256, 131072, 500000.0f, true, 0, 0, true, "ggml-vocab-llama-bpe.gguf"}},
    {"qwen2.5-0.5b",
     {"qwen2", 896, 4864, 24, 14, 2, 151936, 32768, 1000000.0f, true, 0, 0, false, "ggml-vocab-qwen2.gguf"}},
    {"qwen3-0.6b",
     {"qwen3", 1024, 3072, 28, 16, 8, 151936, 40960, 1000000.0f, true, 128, 0, false, "ggml-vocab-qwen2.gguf"}},
    {"gemma-3-270m", {"gemma3", 640, 2048, 18, 4, 1, 262144, 32768, 1000000.0f, true, 256, 512}},
    {"phi-3-mini", {"phi3", 3072, 8192, 32, 32, 32, 32064, 4096, 10000.0f, false}},
};

const char* const kArchitectures[] = {"llama", "qwen2", "qwen3", "phi3", "gemma3"};

// Llama 3's per-pair RoPE divisors (its "llama3" rope scaling: factor 32,
// low/high frequency factors 1 and 4, original context 8192).
std::vector<float> llama3_rope_factors(int n_rot, float base) {
  constexpr float kFactor = 32.0f, kLow = 1.0f, kHigh = 4.0f, kOriginal = 8192.0f;
  std::vector<float> out;
  for (int i = 0; i < n_rot / 2; ++i) {
    const float freq = std::pow(base, -2.0f * static_cast<float>(i) / static_cast<float>(n_rot));
    const float wavelength = 2.0f * std::numbers::pi_v<float> / freq;
    if (wavelength < kOriginal / kHigh) {
      out.push_back(1.0f);
    } else if (wavelength > kOriginal / kLow) {
      out.push_back(kFactor);
    } else {
      const float smooth = (kOriginal / wavelength - kLow) / (kHigh - kLow);
      out.push_back(1.0f / ((1.0f - smooth) / kFactor + smooth));
    }
  }
  return out;
}

// A weight type choice as llama-quantize makes it: the type of most
// matrices, llama.cpp's general.file_type, and which of llama-quantize's
// per-tensor choices (llama_tensor_get_type) the file type adds.
using ullm::DType;

enum class Mix {
  kNone,    // only the output head differs (Q6_K unless the file is Q8_0)
  kSmallK,  // Q4_K_S: also the first four attn_v and first eighth of ffn_down in Q5_K
  kMediumK  // Q4_K_M, Q5_K_M: also the extra-bits layers' attn_v and ffn_down in Q6_K
};

struct Recipe {
  const char* name;
  DType main;
  uint32_t file_type;
  Mix mix = Mix::kNone;
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
    {"q4_k_s", DType::Q4_K, 14, Mix::kSmallK},
    {"q5_k_s", DType::Q5_K, 16},
    {"q6_k", DType::Q6_K, 18},
    {"q4_k_m", DType::Q4_K, 15, Mix::kMediumK},
    {"q5_k_m", DType::Q5_K, 17, Mix::kMediumK},
};

// llama-quantize gives these layers more bits in its "_m" mixes.
bool uses_more_bits(int layer, int layers) {
  return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
}

bool is_float(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

// The type llama-quantize gives a matrix (all in the recipe's main type with
// `pure`, as its --pure), with its fallbacks for rows that are not whole
// blocks (K-quants to the nearest 32-block type, others to F16).
// `output_head` is output.weight, or token_embd.weight where the two are tied.
DType tensor_type(const Recipe& r, const std::string& name, bool output_head, int64_t row_length, int layers,
                  bool pure) {
  DType t = r.main;
  if (!pure && !is_float(r.main)) {
    int layer = -1;
    std::sscanf(name.c_str(), "blk.%d.", &layer);
    const bool attn_v = name.find("attn_v.") != std::string::npos;
    const bool ffn_down = name.find("ffn_down.") != std::string::npos;
    if (output_head) {
      if (r.main != DType::Q8_0) t = DType::Q6_K;
    } else if (r.mix == Mix::kSmallK) {
      if ((attn_v && layer < 4) || (ffn_down && layer < layers / 8)) t = DType::Q5_K;
    } else if (r.mix == Mix::kMediumK) {
      if ((attn_v || ffn_down) && uses_more_bits(layer, layers)) t = DType::Q6_K;
      if (name.find("attn_qkv.") != std::string::npos) t = r.main == DType::Q4_K ? DType::Q5_K : DType::Q6_K;
    }
  }
  if (row_length % ullm::dtype_info(t).block_size == 0) return t;
  switch (t) {
    case DType::Q4_K:
      t = DType::Q5_0;
      break;
    case DType::Q5_K:
      t = DType::Q5_1;
      break;
    case DType::Q6_K:
      t = DType::Q8_0;
      break;
    default:
      return DType::F16;
  }
  return row_length % ullm::dtype_info(t).block_size == 0 ? t : DType::F16;
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
  std::string like, type_name = "q8_0", tokenizer_path, out_path;
  int dim = 0, ffn = 0, layers = 0, heads = 0, kv_heads = 0, vocab = 0, ctx = 0, head_dim = 0;
  std::string arch;
  float rope_base = 0;
  uint64_t seed = 1;
  bool tied = false, untied = false, pure = false;
  std::string presets;
  for (const auto& [name, s] : kPresets) presets += (presets.empty() ? "" : "|") + name;
  ullm::cli::ArgParser args("ullm-synth", "Write a random-weight GGUF of any supported architecture and shape.");
  args.option({"--like"}, &like, "NAME", "start from a real model's shape: " + presets);
  args.option({"--arch"}, &arch, "NAME",
              "architecture: llama, qwen2, qwen3, phi3, gemma3 (default: llama, or the preset's)");
  args.option({"--head-dim"}, &head_dim, "N", "attention head width (default: dim / heads, or the preset's)");
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
  args.flag({"--pure"}, &pure,
            "every matrix in the --type (default: llama-quantize's choices: the output head in Q6_K, or Q8_0 "
            "where rows are not whole 256-blocks, and the K-quant mixes' extra bits)");
  args.option({"--tokenizer"}, &tokenizer_path, "PATH",
              "GGUF to copy tokenizer.* keys from (default: the preset family's vocabulary in "
              "../shared/reference/tokenizer, else Llama 2's SPM vocabulary there)");
  args.option({"--seed"}, &seed, "S", "random seed (default: 1)");
  args.option({"-o", "--output"}, &out_path, "PATH", "the GGUF file to write (required)");
  args.parse(argc, argv);
  const Recipe* recipe = nullptr;
  for (const Recipe& r : kRecipes) {
    if (type_name == r.name) recipe = &r;
  }
  if (recipe == nullptr) args.usage_error(fmt::format("unknown --type '{}' ({})", type_name, recipes));
  if (!arch.empty() &&
      std::find(std::begin(kArchitectures), std::end(kArchitectures), arch) == std::end(kArchitectures)) {
    args.usage_error(fmt::format("unknown --arch '{}' (llama, qwen2, qwen3, phi3, gemma3)", arch));
  }

  return ullm::cli::run_main("ullm-synth", [&] {
    if (out_path.empty()) throw ullm::InvalidArgument("-o PATH is required");
    Shape s{"llama", 0, 0, 0, 0, 0, 0, 2048, 10000.0f, false};
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
    if (!arch.empty()) s.arch = arch;
    if (head_dim) s.head_dim = head_dim;
    if (s.arch == "gemma3" && s.sliding_window == 0) s.sliding_window = 512;
    if (tied) s.tied = true;
    if (untied) s.tied = false;
    if (s.kv_heads == 0) s.kv_heads = s.heads;
    if (s.dim <= 0 || s.ffn <= 0 || s.layers <= 0 || s.heads <= 0) {
      throw ullm::InvalidArgument("give --like or all of --dim, --ffn, --layers, --heads");
    }
    if ((s.head_dim == 0 && s.dim % s.heads != 0) || s.heads % s.kv_heads != 0) {
      throw ullm::InvalidArgument(
          fmt::format("dim {} must be a multiple of heads {}, and heads of kv-heads {}", s.dim, s.heads, s.kv_heads));
    }
    if (tokenizer_path.empty()) tokenizer_path = std::string("../shared/reference/tokenizer/") + s.tokenizer;
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

    const int hd = s.head_dim ? s.head_dim : s.dim / s.heads;
    const std::string a = s.arch + ".";
    const auto u32 = [](int v) { return value<uint32_t>(static_cast<uint32_t>(v)); };
    w.set("general.architecture", value<std::string>(s.arch));
    w.set("general.name", value<std::string>(like.empty() ? "ullm-synth" : "ullm-synth-" + like));
    w.set("general.file_type", value<uint32_t>(recipe->file_type));
    w.set(a + "context_length", u32(s.ctx));
    w.set(a + "embedding_length", u32(s.dim));
    w.set(a + "block_count", u32(s.layers));
    w.set(a + "feed_forward_length", u32(s.ffn));
    w.set(a + "attention.head_count", u32(s.heads));
    w.set(a + "attention.head_count_kv", u32(s.kv_heads));
    w.set(a + "attention.key_length", u32(hd));
    w.set(a + "attention.value_length", u32(hd));
    w.set(a + "attention.layer_norm_rms_epsilon", value<float>(s.arch == "llama" ? 1e-5f : 1e-6f));
    w.set(a + "rope.freq_base", value<float>(s.rope_base));
    w.set(a + "rope.dimension_count", u32(hd));
    w.set(a + "vocab_size", u32(s.vocab));
    if (s.arch == "gemma3") {
      w.set(a + "attention.sliding_window", u32(s.sliding_window));
      w.set(a + "attention.sliding_window_pattern", u32(6));
      w.set(a + "rope.freq_base_swa", value<float>(10000.0f));
    }

    Noise noise(seed);
    const bool progress = ::isatty(2) != 0;  // a progress line only where someone watches it
    int written = 0;
    int total = 0;  // counted by a dry run of the tensor list below
    enum class Kind { kMatrix, kNorm, kBias };
    bool counting = true;
    const auto add = [&](const std::string& name, std::vector<int64_t> shape, Kind kind) {
      if (counting) return void(++total);
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      std::vector<float> data(static_cast<size_t>(n));
      const bool matrix = kind == Kind::kMatrix;
      const float stddev = matrix ? 1.0f / std::sqrt(static_cast<float>(shape[0])) : 0.05f;
      for (auto& x : data) x = (kind == Kind::kNorm ? 1.0f : 0.0f) + noise.next(stddev);
      const bool output_head = name == "output.weight" || (s.tied && name == "token_embd.weight");
      const DType t = matrix ? tensor_type(*recipe, name, output_head, shape[0], s.layers, pure) : DType::F32;
      std::vector<std::byte> bytes(ullm::kernels::row_size(t, n));
      ullm::kernels::type_kernels(t)->from_float(data.data(), bytes.data(), n);
      w.add_tensor(name, t, shape, bytes);
      ++written;
      if (progress) fmt::print(stderr, "\rullm-synth: {:3d}% ({}/{} tensors)", 100 * written / total, written, total);
    };
    const int64_t q_width = int64_t{s.heads} * hd, kv_width = int64_t{s.kv_heads} * hd;
    const auto tensors = [&] {
      add("token_embd.weight", {s.dim, s.vocab}, Kind::kMatrix);
      add("output_norm.weight", {s.dim}, Kind::kNorm);
      if (!s.tied) add("output.weight", {s.dim, s.vocab}, Kind::kMatrix);
      for (int l = 0; l < s.layers; ++l) {
        const std::string p = fmt::format("blk.{}.", l);
        add(p + "attn_norm.weight", {s.dim}, Kind::kNorm);
        if (s.arch == "phi3") {
          add(p + "attn_qkv.weight", {s.dim, q_width + 2 * kv_width}, Kind::kMatrix);
        } else {
          add(p + "attn_q.weight", {s.dim, q_width}, Kind::kMatrix);
          add(p + "attn_k.weight", {s.dim, kv_width}, Kind::kMatrix);
          add(p + "attn_v.weight", {s.dim, kv_width}, Kind::kMatrix);
        }
        if (s.arch == "qwen2") {
          add(p + "attn_q.bias", {q_width}, Kind::kBias);
          add(p + "attn_k.bias", {kv_width}, Kind::kBias);
          add(p + "attn_v.bias", {kv_width}, Kind::kBias);
        }
        if (s.arch == "qwen3" || s.arch == "gemma3") {
          add(p + "attn_q_norm.weight", {hd}, Kind::kNorm);
          add(p + "attn_k_norm.weight", {hd}, Kind::kNorm);
        }
        add(p + "attn_output.weight", {q_width, s.dim}, Kind::kMatrix);
        if (s.arch == "gemma3") add(p + "post_attention_norm.weight", {s.dim}, Kind::kNorm);
        add(p + "ffn_norm.weight", {s.dim}, Kind::kNorm);
        if (s.arch == "phi3") {
          add(p + "ffn_up.weight", {s.dim, 2 * int64_t{s.ffn}}, Kind::kMatrix);
        } else {
          add(p + "ffn_gate.weight", {s.dim, s.ffn}, Kind::kMatrix);
          add(p + "ffn_up.weight", {s.dim, s.ffn}, Kind::kMatrix);
        }
        add(p + "ffn_down.weight", {s.ffn, s.dim}, Kind::kMatrix);
        if (s.arch == "gemma3") add(p + "post_ffw_norm.weight", {s.dim}, Kind::kNorm);
      }
    };
    tensors();
    counting = false;
    tensors();
    if (s.llama3_rope) {
      const std::vector<float> factors = llama3_rope_factors(hd, s.rope_base);
      const std::vector<int64_t> shape{static_cast<int64_t>(factors.size())};
      w.add_tensor("rope_freqs.weight", DType::F32, shape,
                   {reinterpret_cast<const std::byte*>(factors.data()), factors.size() * sizeof(float)});
    }
    if (progress) fmt::print(stderr, "\n");
    w.write(out_path);
    fmt::print(stderr, "ullm-synth: wrote {} ({}, dim {}, ffn {}, {} layers, {}/{} heads of {}, vocab {}, {})\n",
               out_path, s.arch, s.dim, s.ffn, s.layers, s.heads, s.kv_heads, hd, s.vocab, type_name);
    return 0;
  });
}
