// GGUF files: a validating, memory-mapping reader and a small writer.
//
// The reader trusts nothing in the file: every count, length, offset, shape
// and type is checked against the file size and sane limits before use, and
// every problem is reported as a FormatError (or UnsupportedError for a valid
// but unknown tensor type) naming the file and the key or tensor at fault.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ullm/tensor.hpp"

namespace ullm::gguf {

enum class ValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};

std::string_view value_type_name(ValueType type);

struct Value;

// An array's elements all have `element_type`; arrays may nest.
struct Array {
  ValueType element_type = ValueType::U8;
  std::vector<Value> items;
};

// One metadata value. Strings are copied out of the file, so a Value outlives
// the mapping it came from.
struct Value {
  using Storage = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool, std::string, Array,
                               uint64_t, int64_t, double>;
  Storage storage;

  ValueType type() const { return static_cast<ValueType>(storage.index()); }
  bool is_integer() const;
  bool is_number() const;
  // Accessors throw FormatError naming `key` when the value has another type
  // or does not fit the requested range.
  int64_t as_int(std::string_view key) const;
  uint32_t as_u32(std::string_view key) const;
  double as_double(std::string_view key) const;
  bool as_bool(std::string_view key) const;
  const std::string& as_string(std::string_view key) const;
  const Array& as_array(std::string_view key) const;
  // A readable rendering; long arrays are abbreviated to their first items.
  std::string to_string(size_t max_items = 8) const;
};

struct KeyValue {
  std::string key;
  Value value;
};

class Mapping;

// An opened, validated GGUF file. Tensor views point into a read-only memory
// mapping owned by the File; they stay valid while the File lives. Move-only.
class File {
 public:
  // Throws IoError if the file cannot be opened or mapped, FormatError if it
  // is not a valid GGUF v2/v3 file, UnsupportedError for unknown tensor types.
  static File open(const std::filesystem::path& path);

  File(File&&) noexcept;
  File& operator=(File&&) noexcept;
  ~File();

  const std::filesystem::path& path() const { return path_; }
  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }
  size_t file_size() const;

  std::span<const KeyValue> metadata() const { return metadata_; }
  // nullptr when the key is absent.
  const Value* find(std::string_view key) const;

  // Drops the pages of [data, data + bytes) (a range inside the mapping)
  // from this process's resident memory, for data copied elsewhere: they
  // stay in the page cache and are read back if touched again. No-op where
  // the range covers no whole page.
  void release(const std::byte* data, size_t bytes) const;

  std::span<const TensorView> tensors() const { return tensors_; }
  // nullptr when no tensor has that name.
  const TensorView* find_tensor(std::string_view name) const;

 private:
  File() = default;
  std::filesystem::path path_;
  std::unique_ptr<Mapping> mapping_;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::vector<KeyValue> metadata_;
  std::vector<std::string> tensor_names_;  // owns the names the views point to
  std::vector<TensorView> tensors_;
  friend class Parser;
};

// Builds a GGUF v3 file in memory: metadata in insertion order, then tensors
// aligned to `alignment`. Used by tools and by tests that make small models.
class Writer {
 public:
  explicit Writer(size_t alignment = 32);

  void set(std::string key, Value value);
  // `data` must hold exactly the bytes of a tensor of this type and shape.
  void add_tensor(std::string name, DType dtype, std::span<const int64_t> shape, std::span<const std::byte> data);

  std::vector<std::byte> bytes() const;
  void write(const std::filesystem::path& path) const;

 private:
  struct PendingTensor {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<std::byte> data;
  };
  size_t alignment_;
  std::vector<KeyValue> metadata_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace ullm::gguf
