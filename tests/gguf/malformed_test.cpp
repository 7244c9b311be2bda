// Hostile and broken GGUF files: each must give a clear ullm::Error naming
// the problem, never a crash, hang or silent garbage.
#include <gtest/gtest.h>

#include <random>

#include "gguf/gguf_builder.hpp"
#include "support/test_support.hpp"
#include "ullm/ullm.hpp"

namespace ullm {
namespace {

using test::GgufBuilder;

// Writes `bytes` to a file and expects opening it to throw E with `needle` in the message.
template <typename E>
void expect_error(const std::vector<std::byte>& bytes, const std::string& needle, bool as_model = false) {
  static int counter = 0;
  const auto path = test::temp_file("bad" + std::to_string(counter++) + ".gguf");
  test::write_bytes(path, bytes);
  try {
    if (as_model) {
      Model::load(path);
    } else {
      gguf::File::open(path);
    }
    FAIL() << "no error; expected one mentioning '" << needle << "'";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << "message does not name the file";
  }
}

// One F32 tensor of 32 values, properly laid out.
GgufBuilder one_tensor_file(uint64_t offset = 0, std::vector<uint64_t> dims = {32}, uint32_t type = 0) {
  GgufBuilder b;
  b.header(1, 1).kv_str("general.architecture", "llama").tensor("t", std::move(dims), type, offset).pad();
  return b;
}

TEST(MalformedGguf, EmptyFile) {
  expect_error<FormatError>({}, "empty file");
}

TEST(MalformedGguf, WrongMagic) {
  GgufBuilder b;
  b.u32(0x46554746).u32(3).u64(0).u64(0);
  expect_error<FormatError>(b.bytes(), "bad magic");
}

TEST(MalformedGguf, UnsupportedVersion) {
  expect_error<UnsupportedError>(GgufBuilder().header(0, 0, 1).bytes(), "version 1");
  expect_error<UnsupportedError>(GgufBuilder().header(0, 0, 99).bytes(), "version 99");
}

TEST(MalformedGguf, TruncatedHeader) {
  GgufBuilder b;
  b.u32(0x46554747).u32(3).u32(0);
  expect_error<FormatError>(b.bytes(), "truncated");
}

TEST(MalformedGguf, AbsurdCounts) {
  expect_error<FormatError>(GgufBuilder().header(0, ~0ull).bytes(), "metadata count");
  expect_error<FormatError>(GgufBuilder().header(1ull << 60, 0).bytes(), "tensor count");
}

TEST(MalformedGguf, StringLengthPastEnd) {
  GgufBuilder b;
  b.header(0, 1).u64(1000).raw("abc", 3).zeros(20);
  expect_error<FormatError>(b.bytes(), "string length 1000");
  GgufBuilder v;
  v.header(0, 1).str("key").u32(8).u64(~0ull);
  expect_error<FormatError>(v.bytes(), "key");
}

TEST(MalformedGguf, BadValues) {
  GgufBuilder type;
  type.header(0, 1).str("k").u32(13);
  expect_error<FormatError>(type.bytes(), "unknown value type 13");
  GgufBuilder boolean;
  boolean.header(0, 1).str("flag").u32(7).raw("\x05", 1);
  expect_error<FormatError>(boolean.bytes(), "flag");
  GgufBuilder dup;
  dup.header(0, 2).kv_u32("k", 1).kv_u32("k", 2);
  expect_error<FormatError>(dup.bytes(), "duplicate metadata key 'k'");
  GgufBuilder array;
  array.header(0, 1).str("arr").u32(9).u32(6).u64(1ull << 50);
  expect_error<FormatError>(array.bytes(), "arr");
  GgufBuilder deep;
  deep.header(0, 1).str("deep");
  deep.u32(9);                                      // an array ...
  for (int i = 0; i < 20; ++i) deep.u32(9).u64(1);  // ... of one array of one array ...
  expect_error<FormatError>(deep.bytes(), "nested");
  GgufBuilder align;
  align.header(0, 1).kv_u32("general.alignment", 48);
  expect_error<FormatError>(align.bytes(), "general.alignment");
  GgufBuilder tiny_align;
  tiny_align.header(0, 1).kv_u32("general.alignment", 2);
  expect_error<FormatError>(tiny_align.bytes(), "general.alignment 2");
}

TEST(MalformedGguf, TensorShapes) {
  expect_error<FormatError>(one_tensor_file(0, {32, 1, 1, 1, 1}).zeros(128).bytes(), "5 dimensions");
  expect_error<FormatError>(one_tensor_file(0, {}).zeros(128).bytes(), "0 dimensions");
  expect_error<FormatError>(one_tensor_file(0, {32, 0}).zeros(128).bytes(), "absurd shape");
  // Each dimension is plausible; their product overflows 64 bits.
  expect_error<FormatError>(one_tensor_file(0, {1ull << 40, 1ull << 40}).zeros(128).bytes(), "absurd shape");
  expect_error<FormatError>(one_tensor_file(0, {33}, 8).zeros(128).bytes(), "not a multiple");
}

TEST(MalformedGguf, UnknownTensorType) {
  expect_error<UnsupportedError>(one_tensor_file(0, {32}, 77).zeros(128).bytes(), "unknown type id 77");
}

TEST(MalformedGguf, TensorDataOutOfBounds) {
  expect_error<FormatError>(one_tensor_file(0).zeros(64).bytes(), "past the end");  // truncated data
  expect_error<FormatError>(one_tensor_file(1ull << 40).zeros(128).bytes(), "past the end");
  expect_error<FormatError>(one_tensor_file(~0ull & ~31ull).zeros(128).bytes(), "past the end");
  expect_error<FormatError>(one_tensor_file(4).zeros(256).bytes(), "not aligned");
}

TEST(MalformedGguf, OverlappingTensors) {
  GgufBuilder b;
  b.header(2, 0).tensor("first", {32}, 0, 0).tensor("second", {32}, 0, 128).pad().zeros(256);
  test::write_bytes(test::temp_file("ok.gguf"), b.bytes());
  EXPECT_NO_THROW(gguf::File::open(test::temp_file("ok.gguf")));
  GgufBuilder o;
  o.header(2, 0).tensor("first", {64}, 0, 0).tensor("second", {32}, 0, 128).pad().zeros(512);
  expect_error<FormatError>(o.bytes(), "overlap");
  GgufBuilder d;
  d.header(2, 0).tensor("same", {32}, 0, 0).tensor("same", {32}, 0, 128).pad().zeros(512);
  expect_error<FormatError>(d.bytes(), "duplicate tensor name");
}

TEST(MalformedGguf, ModelLevelErrors) {
  GgufBuilder arch;
  arch.header(0, 1).kv_str("general.architecture", "mamba9");
  expect_error<UnsupportedError>(arch.bytes(), "architecture 'mamba9'", true);
  GgufBuilder none;
  none.header(0, 0);
  expect_error<FormatError>(none.bytes(), "general.architecture", true);
  GgufBuilder key;
  key.header(0, 2).kv_str("general.architecture", "llama").kv_u32("llama.context_length", 128);
  expect_error<FormatError>(key.bytes(), "missing required key 'llama.embedding_length'", true);
}

// A real model cut short at many points, and with bytes flipped in its
// header: every outcome is a clean load or a ullm::Error.
TEST(MalformedGguf, TruncationsAndCorruptionOfARealModel) {
  const auto original = test::load_bytes(test::shared_path("models/stories260K-q8_0.gguf"));
  const auto path = test::temp_file("cut.gguf");
  const size_t header_end = 40000;  // well past the metadata and tensor table
  for (size_t size = 0; size < original.size(); size += size < header_end ? 997 : 37777) {
    test::write_bytes(path, {original.begin(), original.begin() + static_cast<std::ptrdiff_t>(size)});
    EXPECT_THROW(Model::load(path), Error) << "cut at " << size;
  }
  std::mt19937 rng(1234);
  int clean = 0, rejected = 0;
  for (int trial = 0; trial < 300; ++trial) {
    auto bytes = original;
    for (int flips = 0; flips < 4; ++flips) {
      bytes[rng() % header_end] = static_cast<std::byte>(rng() & 0xff);
    }
    test::write_bytes(path, bytes);
    try {
      const Model m = Model::load(path);
      Session s(m, {.context_length = 8});
      const Token bos = m.tokenizer().bos() >= 0 ? m.tokenizer().bos() : 0;
      s.eval(std::span<const Token>(&bos, 1));
      ++clean;
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_EQ(clean + rejected, 300);
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace ullm
