#include "support/tiny_model.hpp"

#include <fmt/format.h>

#include <random>

#include "kernels/type_traits.hpp"
#include "support/test_support.hpp"

namespace ullm::test {
namespace {

template <typename T>
gguf::Value value(T v) {
  return gguf::Value{gguf::Value::Storage(std::in_place_type<T>, std::move(v))};
}

template <typename T>
gguf::Value array(gguf::ValueType type, const std::vector<T>& items) {
  gguf::Array a{type, {}};
  for (const auto& item : items) a.items.push_back(value<T>(item));
  return value<gguf::Array>(std::move(a));
}

}  // namespace

std::filesystem::path write_tiny_model(const std::string& file_name, const TinyModelSpec& spec) {
  std::vector<std::string> tokens{"<unk>", "<s>", "</s>"};
  std::vector<float> scores{0, 0, 0};
  std::vector<int32_t> types{2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(fmt::format("<0x{:02X}>", b));
    scores.push_back(0);
    types.push_back(6);
  }
  for (std::string piece : {"\xe2\x96\x81", "e", "t", "a", "o", "\xe2\x96\x81t", "he", "\xe2\x96\x81the", "in"}) {
    tokens.push_back(piece);
    scores.push_back(-static_cast<float>(tokens.size()));
    types.push_back(1);
  }
  const auto n_vocab = static_cast<int64_t>(tokens.size());

  gguf::Writer w;
  w.set("general.architecture", value<std::string>("llama"));
  w.set("general.name", value<std::string>("tiny"));
  w.set("llama.context_length", value<uint32_t>(static_cast<uint32_t>(spec.context)));
  w.set("llama.embedding_length", value<uint32_t>(static_cast<uint32_t>(spec.n_embd)));
  w.set("llama.block_count", value<uint32_t>(static_cast<uint32_t>(spec.n_layer)));
  w.set("llama.feed_forward_length", value<uint32_t>(static_cast<uint32_t>(spec.n_ff)));
  w.set("llama.attention.head_count", value<uint32_t>(static_cast<uint32_t>(spec.n_head)));
  w.set("llama.attention.head_count_kv", value<uint32_t>(static_cast<uint32_t>(spec.n_head_kv)));
  w.set("llama.attention.layer_norm_rms_epsilon", value<float>(1e-5f));
  w.set("tokenizer.ggml.model", value<std::string>("llama"));
  w.set("tokenizer.ggml.tokens", array(gguf::ValueType::String, tokens));
  w.set("tokenizer.ggml.scores", array(gguf::ValueType::F32, scores));
  w.set("tokenizer.ggml.token_type", array(gguf::ValueType::I32, types));
  w.set("tokenizer.ggml.bos_token_id", value<uint32_t>(1));
  w.set("tokenizer.ggml.eos_token_id", value<uint32_t>(2));
  if (spec.edit_metadata) spec.edit_metadata(w);

  std::mt19937 rng(spec.seed);
  const auto add = [&](std::string name, std::vector<int64_t> shape, bool matrix, float scale) {
    DType type = matrix ? spec.weight_type : DType::F32;
    if (spec.edit_tensor && !spec.edit_tensor(name, type, shape)) return;
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::normal_distribution<float> dist(matrix ? 0.0f : 1.0f, scale);
    std::vector<float> data(static_cast<size_t>(n));
    for (auto& x : data) x = dist(rng);
    std::vector<std::byte> bytes(kernels::row_size(type, n));
    if (const auto* k = kernels::type_kernels(type)) {
      k->from_float(data.data(), bytes.data(), n);
    }  // types without kernels keep zero bytes: only their loading is tested
    w.add_tensor(std::move(name), type, shape, bytes);
  };
  const int64_t E = spec.n_embd, hd = spec.n_embd / spec.n_head;
  add("token_embd.weight", {E, n_vocab}, true, 1.0f);
  add("output_norm.weight", {E}, false, 0.1f);
  if (!spec.tied) add("output.weight", {E, n_vocab}, true, 1.0f / std::sqrt(static_cast<float>(E)));
  for (int64_t l = 0; l < spec.n_layer; ++l) {
    const std::string p = fmt::format("blk.{}.", l);
    const float s = 1.0f / std::sqrt(static_cast<float>(E));
    add(p + "attn_norm.weight", {E}, false, 0.1f);
    add(p + "attn_q.weight", {E, spec.n_head * hd}, true, s);
    add(p + "attn_k.weight", {E, spec.n_head_kv * hd}, true, s);
    add(p + "attn_v.weight", {E, spec.n_head_kv * hd}, true, s);
    add(p + "attn_output.weight", {spec.n_head * hd, E}, true, s);
    add(p + "ffn_norm.weight", {E}, false, 0.1f);
    add(p + "ffn_gate.weight", {E, spec.n_ff}, true, s);
    add(p + "ffn_up.weight", {E, spec.n_ff}, true, s);
    add(p + "ffn_down.weight", {spec.n_ff, E}, true, 1.0f / std::sqrt(static_cast<float>(spec.n_ff)));
  }
  const auto path = temp_file(file_name);
  w.write(path);
  return path;
}

}  // namespace ullm::test
