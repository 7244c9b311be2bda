// libFuzzer target: any bytes as a GGUF model file. Loading, tokenizing,
// one prompt step, one decode step and its chat template must end in a
// model or a ullm::Error; a crash, a sanitizer report, a hang or an
// out-of-memory is a finding.
#include <cstdint>
#include <span>
#include <ullm/ullm.hpp>
#include <vector>

#include "input_file.hpp"

namespace {

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
  // Last, as most files have no template ullm knows (an UnsupportedError).
  const ullm::ChatMessage turn{"user", "Hi"};
  (void)ullm::ChatTemplate::for_model(model).apply(std::span(&turn, 1), {.date = "2026-12-03"});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ullm::fuzz::run_on_file(data, size, exercise);
  return 0;
}
