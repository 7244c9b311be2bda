// What the file-reading fuzz targets share: ullm opens models by path, so
// each input is written to one file per process, then read by `exercise`,
// which must end normally or in a ullm::Error.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <ullm/error.hpp>

namespace ullm::fuzz {

template <typename Exercise>
void run_on_file(const uint8_t* data, size_t size, const Exercise& exercise) {
  static const std::filesystem::path path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::filesystem::path(dir != nullptr ? dir : "/tmp") /
           ("ullm-fuzz-input-" + std::to_string(getpid()) + ".gguf");
  }();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    exercise(path);
  } catch (const ullm::Error&) {
  }
}

}  // namespace ullm::fuzz
