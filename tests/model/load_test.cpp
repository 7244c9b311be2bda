// Loading models of other shapes, and models broken in one way each.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <fstream>
#include <thread>

#include "kernels/blocks.hpp"
#include "kernels/matmul.hpp"
#include "model/model_data.hpp"
#include "support/test_support.hpp"
#include "support/tiny_model.hpp"
#include "ullm/ullm.hpp"

namespace ullm {
namespace {

using test::TinyModelSpec;
using test::write_tiny_model;

template <typename E>
void expect_load_error(const std::string& name, const TinyModelSpec& spec, const std::string& needle) {
  const auto path = write_tiny_model(name, spec);
  try {
    Model::load(path);
    FAIL() << "loaded; expected an error mentioning '" << needle << "'";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(ModelLoad, TinyModelsOfEveryWeightTypeRun) {
  for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                     DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    TinyModelSpec spec;
    spec.weight_type = type;
    if (dtype_info(type).block_size == 256) spec.n_embd = spec.n_ff = 256;  // whole super-blocks per row
    const Model model = Model::load(write_tiny_model(std::string(dtype_name(type)) + ".gguf", spec));
    EXPECT_EQ(model.config().n_vocab, 268);
    Session s(model);
    const auto ids = model.tokenizer().encode("the tea");
    const auto logits = s.eval(ids);
    ASSERT_EQ(logits.size(), 268u);
    for (float l : logits) ASSERT_TRUE(std::isfinite(l));
  }
}

TEST(ModelLoad, TiedAndSeparateHeadsAgree) {
  TinyModelSpec spec;
  spec.tied = true;
  const auto tied_path = write_tiny_model("tied.gguf", spec);
  // The same file with output.weight written out as a copy of token_embd.
  const gguf::File tied_file = gguf::File::open(tied_path);
  gguf::Writer w;
  for (const auto& kv : tied_file.metadata()) w.set(kv.key, kv.value);
  for (const auto& t : tied_file.tensors()) {
    const std::vector<int64_t> shape(t.shape.begin(), t.shape.begin() + t.n_dims);
    w.add_tensor(std::string(t.name), t.dtype, shape, {t.data, t.bytes});
    if (t.name == "token_embd.weight") w.add_tensor("output.weight", t.dtype, shape, {t.data, t.bytes});
  }
  const auto separate_path = test::temp_file("separate.gguf");
  w.write(separate_path);

  const Model tied = Model::load(tied_path);
  const Model separate = Model::load(separate_path);
  EXPECT_TRUE(tied.config().tied_embeddings);
  EXPECT_FALSE(separate.config().tied_embeddings);
  Session a(tied), b(separate);
  const std::vector<Token> ids{1, 260, 265, 3};
  const auto la = a.eval(ids);
  const std::vector<float> first(la.begin(), la.end());
  const auto lb = b.eval(ids);
  EXPECT_EQ(first, std::vector<float>(lb.begin(), lb.end()));
}

// Repacked weights (the default where the kernels repack, e.g. Q4_0 on
// avx2/avx512, and Q8_0 with AVX-512 for models that fit in cache, as these
// do) give exactly the logits of the mapped file, on several threads: a
// prompt of 20 tokens, which reads the mapped file (the copies are made on
// first demand, by the first step of few tokens), then a prompt of 8 and
// single tokens from the copies.
TEST(ModelLoad, RepackedWeightsGiveTheSameLogits) {
  std::vector<std::filesystem::path> paths;
  for (const char* name : {"models/synth/llama-q4_0.gguf", "models/synth/qwen3-q4_0.gguf",
                           "models/stories260K-q4_0.gguf", "models/synth/llama-q8_0.gguf"}) {
    paths.push_back(test::shared_path(name));
  }
  for (DType type : {DType::Q8_0, DType::Q5_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    TinyModelSpec spec;
    spec.weight_type = type;
    spec.n_embd = spec.n_ff = 256;  // whole super-blocks per row, whole panels
    paths.push_back(write_tiny_model("repack-" + std::string(dtype_name(type)) + ".gguf", spec));
  }
  const auto same = [](std::span<const float> a, std::span<const float> b) { return std::ranges::equal(a, b); };
  for (const auto& path : paths) {
    SCOPED_TRACE(path.filename().string());
    const Model repacked = Model::load(path);
    LoadOptions no_repacking;
    no_repacking.repack_weights = false;
    const Model mapped = Model::load(path, no_repacking);
    const TensorView& ffn_up = repacked.data().layers[0].ffn_up;
    const bool repacks = kernels::repacks(*repacked.data().kernels, ffn_up);
    Session a(repacked, {.threads = 2}), b(mapped, {.threads = 2});
    const std::vector<Token> prompt = {1, 45, 49, 173, 170, 229, 43, 172};  // within every vocabulary here
    std::vector<Token> long_prompt;
    for (int i = 0; i < 20; ++i) long_prompt.push_back(prompt[static_cast<size_t>(i * 7 % 8)]);
    ASSERT_TRUE(same(a.eval_all(long_prompt), b.eval_all(long_prompt)));
    EXPECT_EQ(repacked.data().repacked_copy(ffn_up), nullptr);
    ASSERT_TRUE(same(a.eval_all(prompt), b.eval_all(prompt)));
    EXPECT_EQ(repacked.data().repacked_copy(ffn_up) != nullptr, repacks);
    for (Token t : {Token{200}, Token{42}}) {
      ASSERT_TRUE(same(a.eval(std::span<const Token>(&t, 1)), b.eval(std::span<const Token>(&t, 1))));
    }
    EXPECT_EQ(mapped.data().repacked_copy(ffn_up), nullptr);
  }
}

// Sessions that start together on a fresh model race to have its repacked
// copy made (a decode step or a long prompt makes it, once, on all cores;
// a short prompt reads the file meanwhile, whose pages the copying
// releases): each gets the logits it gets alone. (Also run under
// ThreadSanitizer: docs/design.md, Robustness.)
TEST(ModelLoad, SessionsStartingTogetherOnAFreshModelAgree) {
  const auto path = test::shared_path("models/synth/llama-q4_0.gguf");
  const std::vector<Token> base = {1, 45, 49, 173, 170, 229, 43, 172};
  std::vector<std::vector<Token>> prompts;
  for (size_t length : {1, 20, 70, 1, 33, 8}) {
    std::vector<Token> p;
    for (size_t i = 0; i < length; ++i) p.push_back(base[i * 5 % base.size()]);
    prompts.push_back(p);
  }
  const auto run = [&](const Model& model, const std::vector<Token>& prompt) {
    Session s(model, {.threads = 1});
    const auto all = s.eval_all(prompt);
    std::vector<float> logits(all.begin(), all.end());
    const Token next = 200;
    const auto step = s.eval(std::span<const Token>(&next, 1));
    logits.insert(logits.end(), step.begin(), step.end());
    return logits;
  };
  LoadOptions no_repacking;
  no_repacking.repack_weights = false;
  const Model mapped = Model::load(path, no_repacking);
  std::vector<std::vector<float>> expected;
  for (const auto& prompt : prompts) expected.push_back(run(mapped, prompt));

  const Model fresh = Model::load(path);
  std::vector<std::vector<float>> got(prompts.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < prompts.size(); ++i) threads.emplace_back([&, i] { got[i] = run(fresh, prompts[i]); });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(got[i], expected[i]) << "prompt of " << prompts[i].size();
  const TensorView& ffn_up = fresh.data().layers[0].ffn_up;
  EXPECT_EQ(fresh.data().repacked_copy(ffn_up) != nullptr, kernels::repacks(*fresh.data().kernels, ffn_up));
}

// A Q8_0 weight of -128, which no quantizer writes but a file may hold: the
// matrix is repacked like the others, and the logits are those of the model
// read from the file's rows.
TEST(ModelLoad, RepackedQ8_0TakesEveryWeightByte) {
  TinyModelSpec spec;
  spec.weight_type = DType::Q8_0;
  spec.n_embd = spec.n_ff = 256;
  const auto path = write_tiny_model("q8_0-with-min.gguf", spec);
  size_t offset = 0;  // of blk.0.ffn_up.weight's first value in the file
  {
    const gguf::File file = gguf::File::open(path);
    const std::byte* first_data = nullptr;  // the data section's first tensor starts it
    for (const TensorView& t : file.tensors()) {
      if (first_data == nullptr || t.data < first_data) first_data = t.data;
    }
    const TensorView* up = file.find_tensor("blk.0.ffn_up.weight");
    ASSERT_NE(up, nullptr);
    offset = file.data_offset() + static_cast<size_t>(up->data - first_data) + offsetof(kernels::BlockQ8_0, qs);
  }
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.put(static_cast<char>(0x80));
  }
  const Model repacked = Model::load(path);
  LoadOptions no_repacking;
  no_repacking.repack_weights = false;
  const Model mapped = Model::load(path, no_repacking);
  const Model::Data& m = repacked.data();
  const TensorView& up = m.layers[0].ffn_up;
  ASSERT_EQ(static_cast<int8_t>(up.data[offsetof(kernels::BlockQ8_0, qs)]), -128);
  Session a(repacked, {.threads = 2}), b(mapped, {.threads = 2});
  const std::vector<Token> prompt = {1, 45, 49, 173, 170, 229, 43, 172};
  ASSERT_TRUE(std::ranges::equal(a.eval_all(prompt), b.eval_all(prompt)));
  EXPECT_EQ(m.repacked_copy(up) != nullptr, kernels::repacks(*m.kernels, up));
  EXPECT_EQ(m.repacked_copy(m.layers[0].ffn_gate) != nullptr, kernels::repacks(*m.kernels, m.layers[0].ffn_gate));
  const Token t = 200;
  ASSERT_TRUE(std::ranges::equal(a.eval(std::span<const Token>(&t, 1)), b.eval(std::span<const Token>(&t, 1))));
}

TEST(ModelLoad, BrokenModelsAreClearErrors) {
  TinyModelSpec missing;
  missing.edit_tensor = [](std::string& name, DType&, std::vector<int64_t>&) { return name != "blk.1.ffn_up.weight"; };
  expect_load_error<FormatError>("missing.gguf", missing, "missing tensor 'blk.1.ffn_up.weight'");

  TinyModelSpec shape;
  shape.edit_tensor = [](std::string& name, DType&, std::vector<int64_t>& dims) {
    if (name == "blk.0.attn_k.weight") dims[1] = 32;
    return true;
  };
  expect_load_error<FormatError>("shape.gguf", shape, "'blk.0.attn_k.weight' has shape [32, 32], expected [32, 16]");

  TinyModelSpec ktype;
  ktype.n_embd = 256;
  ktype.n_ff = 256;
  ktype.edit_tensor = [](std::string& name, DType& type, std::vector<int64_t>&) {
    if (name == "blk.0.ffn_gate.weight") type = DType::Q2_K;
    return true;
  };
  expect_load_error<UnsupportedError>("q2k.gguf", ktype, "'blk.0.ffn_gate.weight' has type Q2_K");
  ktype.edit_tensor = [](std::string& name, DType& type, std::vector<int64_t>&) {
    if (name == "blk.0.ffn_up.weight") type = DType::Q8_K;  // an activation format only
    return true;
  };
  expect_load_error<UnsupportedError>("q8k.gguf", ktype, "'blk.0.ffn_up.weight' has type Q8_K");

  TinyModelSpec heads;
  heads.n_head_kv = 3;
  expect_load_error<FormatError>("heads.gguf", heads, "not a multiple of head_count_kv 3");

  TinyModelSpec bos;
  bos.edit_metadata = [](gguf::Writer& w) {
    w.set("tokenizer.ggml.bos_token_id", gguf::Value{gguf::Value::Storage(std::in_place_type<uint32_t>, 9999)});
  };
  expect_load_error<FormatError>("bos.gguf", bos, "bos_token_id = 9999");

  TinyModelSpec type_of_key;
  type_of_key.edit_metadata = [](gguf::Writer& w) {
    w.set("llama.block_count", gguf::Value{gguf::Value::Storage(std::in_place_type<std::string>, "two")});
  };
  expect_load_error<FormatError>("keytype.gguf", type_of_key, "'llama.block_count' should be an integer");

  TinyModelSpec eps;
  eps.edit_metadata = [](gguf::Writer& w) {
    w.set("llama.attention.layer_norm_rms_epsilon", gguf::Value{gguf::Value::Storage(std::in_place_type<float>, NAN)});
  };
  expect_load_error<FormatError>("eps.gguf", eps, "layer_norm_rms_epsilon");

  TinyModelSpec yarn;
  yarn.edit_metadata = [](gguf::Writer& w) {
    w.set("llama.rope.scaling.type", gguf::Value{gguf::Value::Storage(std::in_place_type<std::string>, "yarn")});
  };
  expect_load_error<UnsupportedError>("yarn.gguf", yarn, "rope scaling type 'yarn'");
}

// Llama 3's rope_freqs divide each pair's angle; linear scaling multiplies
// all of them. Dividing by 2 and scaling by 1/2 are the same exact halving.
TEST(ModelLoad, RopeFrequencyFactorsAndLinearScaling) {
  const auto logits_of = [](const std::string& name, float factor, float linear) {
    TinyModelSpec spec;
    spec.edit_metadata = [=](gguf::Writer& w) {
      if (factor != 0.0f) {
        const std::vector<float> factors(4, factor);  // head_dim 8: 4 pairs
        const std::vector<int64_t> shape{4};
        w.add_tensor("rope_freqs.weight", DType::F32, shape,
                     {reinterpret_cast<const std::byte*>(factors.data()), factors.size() * sizeof(float)});
      }
      if (linear != 0.0f) {
        w.set("llama.rope.scaling.type", gguf::Value{gguf::Value::Storage(std::in_place_type<std::string>, "linear")});
        w.set("llama.rope.scaling.factor", gguf::Value{gguf::Value::Storage(std::in_place_type<float>, linear)});
      }
    };
    const Model model = Model::load(write_tiny_model(name, spec));
    Session session(model);
    const auto out = session.eval(model.tokenizer().encode("the tea"));
    return std::vector<float>(out.begin(), out.end());
  };
  const auto plain = logits_of("plain.gguf", 0.0f, 0.0f);
  EXPECT_EQ(logits_of("ones.gguf", 1.0f, 0.0f), plain);
  const auto divided = logits_of("twos.gguf", 2.0f, 0.0f);
  EXPECT_NE(divided, plain);
  EXPECT_EQ(logits_of("linear.gguf", 0.0f, 2.0f), divided);
}

}  // namespace
}  // namespace ullm
