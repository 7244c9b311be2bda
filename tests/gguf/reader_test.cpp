// The GGUF reader on well-formed files: every value type, nested arrays,
// alignment, tensor views — written by ullm's writer and by llama.cpp.
#include <gtest/gtest.h>

#include <algorithm>

#include "support/test_support.hpp"
#include "ullm/ullm.hpp"

namespace ullm {
namespace {

template <typename T>
gguf::Value value(T v) {
  return gguf::Value{gguf::Value::Storage(std::in_place_type<T>, std::move(v))};
}

TEST(GgufReader, RoundTripsEveryValueType) {
  gguf::Writer w(64);
  w.set("u8", value<uint8_t>(250));
  w.set("i8", value<int8_t>(-7));
  w.set("u16", value<uint16_t>(65000));
  w.set("i16", value<int16_t>(-30000));
  w.set("u32", value<uint32_t>(4000000000u));
  w.set("i32", value<int32_t>(-2000000000));
  w.set("f32", value<float>(1.5f));
  w.set("bool", value<bool>(true));
  w.set("string", value<std::string>("héllo"));
  w.set("u64", value<uint64_t>(1ull << 40));
  w.set("i64", value<int64_t>(-(1ll << 40)));
  w.set("f64", value<double>(0.25));
  gguf::Array inner{gguf::ValueType::I32, {value<int32_t>(1), value<int32_t>(2)}};
  gguf::Array outer{gguf::ValueType::Array, {value<gguf::Array>(inner), value<gguf::Array>(inner)}};
  w.set("nested", value<gguf::Array>(outer));
  w.set("empty", value<gguf::Array>(gguf::Array{gguf::ValueType::String, {}}));

  std::vector<float> a(96), b(32);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i);
  for (size_t i = 0; i < b.size(); ++i) b[i] = -static_cast<float>(i);
  const int64_t shape_a[] = {32, 3};
  const int64_t shape_b[] = {32};
  w.add_tensor("a", DType::F32, shape_a, std::as_bytes(std::span(a)));
  w.add_tensor("b", DType::F32, shape_b, std::as_bytes(std::span(b)));
  const auto path = test::temp_file("roundtrip.gguf");
  w.write(path);

  const auto f = gguf::File::open(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.find("u8")->as_int("u8"), 250);
  EXPECT_EQ(f.find("i8")->as_int("i8"), -7);
  EXPECT_EQ(f.find("u16")->as_int("u16"), 65000);
  EXPECT_EQ(f.find("i16")->as_int("i16"), -30000);
  EXPECT_EQ(f.find("u32")->as_u32("u32"), 4000000000u);
  EXPECT_EQ(f.find("i32")->as_int("i32"), -2000000000);
  EXPECT_EQ(f.find("f32")->as_double("f32"), 1.5);
  EXPECT_TRUE(f.find("bool")->as_bool("bool"));
  EXPECT_EQ(f.find("string")->as_string("string"), "héllo");
  EXPECT_EQ(f.find("u64")->as_int("u64"), 1ll << 40);
  EXPECT_EQ(f.find("i64")->as_int("i64"), -(1ll << 40));
  EXPECT_EQ(f.find("f64")->as_double("f64"), 0.25);
  const auto& nested = f.find("nested")->as_array("nested");
  ASSERT_EQ(nested.items.size(), 2u);
  EXPECT_EQ(nested.items[1].as_array("nested").items[1].as_int("nested"), 2);
  EXPECT_TRUE(f.find("empty")->as_array("empty").items.empty());
  EXPECT_EQ(f.find("missing"), nullptr);
  EXPECT_THROW(f.find("string")->as_int("string"), FormatError);
  EXPECT_THROW(f.find("i8")->as_u32("i8"), FormatError);

  ASSERT_EQ(f.tensors().size(), 2u);
  const TensorView* ta = f.find_tensor("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->rows(), 3);
  EXPECT_EQ(ta->row_length(), 32);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(ta->data) % 64, 0u);
  EXPECT_EQ(std::memcmp(ta->data, a.data(), a.size() * 4), 0);
  const TensorView* tb = f.find_tensor("b");
  EXPECT_EQ(std::memcmp(tb->data, b.data(), b.size() * 4), 0);
}

TEST(GgufReader, ReadsLlamaCppFiles) {
  for (const char* name : {"f32", "f16", "q8_0", "q4_0"}) {
    const auto f = gguf::File::open(test::shared_path(std::string("models/stories260K-") + name + ".gguf"));
    EXPECT_EQ(f.find("general.architecture")->as_string("general.architecture"), "llama");
    EXPECT_EQ(f.tensors().size(), 48u);
    const TensorView* embd = f.find_tensor("token_embd.weight");
    ASSERT_NE(embd, nullptr);
    EXPECT_EQ(embd->row_length(), 64);
    EXPECT_EQ(embd->rows(), 512);
  }
  const auto f = gguf::File::open(test::shared_path("models/stories260K-q4_0.gguf"));
  EXPECT_EQ(f.find_tensor("blk.0.ffn_down.weight")->dtype, DType::F16);
  EXPECT_EQ(f.find_tensor("blk.0.attn_q.weight")->dtype, DType::Q4_0);
  EXPECT_EQ(f.find_tensor("output.weight")->dtype, DType::Q8_0);
}

// Released pages come back from the file when read again; ranges outside
// the mapping are ignored.
TEST(GgufReader, ReleasedPagesReadBackUnchanged) {
  const auto f = gguf::File::open(test::shared_path("models/stories260K-f32.gguf"));
  const TensorView* embd = f.find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  const std::vector<std::byte> before(embd->data, embd->data + embd->bytes);
  f.release(embd->data, embd->bytes);
  EXPECT_TRUE(std::equal(before.begin(), before.end(), embd->data));
  const std::byte outside[8] = {};
  f.release(outside, sizeof outside);
}

TEST(GgufReader, WriterRejectsWrongSizes) {
  gguf::Writer w;
  std::vector<std::byte> data(10);
  const int64_t shape[] = {32};
  EXPECT_THROW(w.add_tensor("x", DType::F32, shape, data), InvalidArgument);
  const int64_t odd[] = {33};
  std::vector<std::byte> q(34);
  EXPECT_THROW(w.add_tensor("x", DType::Q8_0, odd, q), InvalidArgument);
}

TEST(GgufReader, MissingFileIsIoError) {
  EXPECT_THROW(gguf::File::open("/nonexistent/model.gguf"), IoError);
  EXPECT_THROW(gguf::File::open("/tmp"), IoError);
}

}  // namespace
}  // namespace ullm
