// libFuzzer target: any bytes as a GGUF file, read as ullm-inspect reads it
// (every metadata value rendered, every tensor's bytes touched at both ends)
// and, if it holds a vocabulary, tokenized. Faster per input than
// model_fuzz, so it reaches deeper into the parser and the tokenizer keys.
#include <cstdint>
#include <cstdlib>
#include <ullm/ullm.hpp>

#include "input_file.hpp"

namespace {

void exercise(const std::filesystem::path& path) {
  const ullm::gguf::File file = ullm::gguf::File::open(path);
  size_t rendered = 0;
  for (const auto& kv : file.metadata()) rendered += kv.value.to_string().size();
  unsigned touched = 0;
  for (const auto& t : file.tensors()) {
    if (t.bytes == 0) continue;
    touched += static_cast<unsigned>(t.data[0]) + static_cast<unsigned>(t.data[t.bytes - 1]);
  }
  const ullm::Tokenizer tokenizer = ullm::Tokenizer::from_gguf(file);
  const auto ids = tokenizer.encode("Hello <s> world\n\xe2\x96\x81 \xff");
  (void)tokenizer.decode(ids);
  // Keep the reads above from being optimised away.
  if (rendered + touched == SIZE_MAX) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ullm::fuzz::run_on_file(data, size, exercise);
  return 0;
}
