#include <fmt/format.h>
#include <cmath>
#include <limits>

#include "ullm/error.hpp"
#include "ullm/gguf.hpp"

namespace ullm::gguf {

std::string_view value_type_name(ValueType type) {
  static constexpr std::string_view kNames[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                                "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<size_t>(type);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

bool Value::is_integer() const {
  switch (type()) {
    case ValueType::U8:
    case ValueType::I8:
    case ValueType::U16:
    case ValueType::I16:
    case ValueType::U32:
    case ValueType::I32:
    case ValueType::U64:
    case ValueType::I64:
      return true;
    default:
      return false;
  }
}

bool Value::is_number() const {
  return is_integer() || type() == ValueType::F32 || type() == ValueType::F64;
}

int64_t Value::as_int(std::string_view key) const {
  return std::visit(
      [&](const auto& v) -> int64_t {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, uint64_t>) {
          if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            throw FormatError(fmt::format("metadata key '{}': value {} is out of range", key, v));
          }
          return static_cast<int64_t>(v);
        } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          return static_cast<int64_t>(v);
        } else {
          throw FormatError(
              fmt::format("metadata key '{}' should be an integer but is {}", key, value_type_name(type())));
        }
      },
      storage);
}

uint32_t Value::as_u32(std::string_view key) const {
  const int64_t v = as_int(key);
  if (v < 0 || v > std::numeric_limits<uint32_t>::max()) {
    throw FormatError(fmt::format("metadata key '{}': value {} is out of range", key, v));
  }
  return static_cast<uint32_t>(v);
}

double Value::as_double(std::string_view key) const {
  if (type() == ValueType::F32) return std::get<float>(storage);
  if (type() == ValueType::F64) return std::get<double>(storage);
  if (is_integer()) return static_cast<double>(as_int(key));
  throw FormatError(fmt::format("metadata key '{}' should be a number but is {}", key, value_type_name(type())));
}

bool Value::as_bool(std::string_view key) const {
  if (type() != ValueType::Bool) {
    throw FormatError(fmt::format("metadata key '{}' should be a bool but is {}", key, value_type_name(type())));
  }
  return std::get<bool>(storage);
}

const std::string& Value::as_string(std::string_view key) const {
  if (type() != ValueType::String) {
    throw FormatError(fmt::format("metadata key '{}' should be a string but is {}", key, value_type_name(type())));
  }
  return std::get<std::string>(storage);
}

const Array& Value::as_array(std::string_view key) const {
  if (type() != ValueType::Array) {
    throw FormatError(fmt::format("metadata key '{}' should be an array but is {}", key, value_type_name(type())));
  }
  return std::get<Array>(storage);
}

std::string Value::to_string(size_t max_items) const {
  return std::visit(
      [&](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          std::string shown = v.size() > 80 ? v.substr(0, 77) + "..." : v;
          for (auto& c : shown) {
            if (c == '\n') c = ' ';
          }
          return fmt::format("\"{}\"", shown);
        } else if constexpr (std::is_same_v<T, Array>) {
          std::string out = fmt::format("[{} x {}: ", v.items.size(), value_type_name(v.element_type));
          for (size_t i = 0; i < v.items.size() && i < max_items; ++i) {
            out += (i ? ", " : "") + v.items[i].to_string(max_items);
          }
          if (v.items.size() > max_items) out += ", ...";
          return out + "]";
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t>) {
          return fmt::format("{}", static_cast<int>(v));
        } else {
          return fmt::format("{}", v);
        }
      },
      storage);
}

}  // namespace ullm::gguf
