// libFuzzer target: any bytes as a GGUF model file. Loading, tokenizing,
// one prompt step and one decode step must end in a model or a ullm::Error;
// a crash, a sanitizer report, a hang or an out-of-memory is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <ullm/ullm.hpp>

namespace {

// Model::load takes a path, so each input goes through one file per process.
std::filesystem::path input_path() {
  const char* dir = std::getenv("TMPDIR");
  return std::filesystem::path(dir != nullptr ? dir : "/tmp") /
         ("ullm-model-fuzz-" + std::to_string(getpid()) + ".gguf");
}

void exercise(const std::filesystem::path& path) {
  const ullm::Model model = ullm::Model::load(path);
  ullm::Session session(model, {.context_length = 8, .threads = 1});
  std::vector<ullm::Token> prompt = model.tokenizer().encode("Once upon a time");
  if (prompt.empty()) prompt.push_back(0);
  if (prompt.size() > 4) prompt.resize(4);
  session.eval(prompt);
  const ullm::Token next = prompt.back();
  session.eval(std::span<const ullm::Token>(&next, 1));  // decode: makes the repacked copy
  (void)model.tokenizer().decode(prompt);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path path = input_path();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    exercise(path);
  } catch (const ullm::Error&) {
  }
  return 0;
}
