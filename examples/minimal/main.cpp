// The README's embedding example, built so it cannot go stale.
#include <iostream>
#include <ullm/ullm.hpp>

int main(int argc, char** argv) {
  try {
    ullm::Model model = ullm::Model::load(argc > 1 ? argv[1] : "../shared/models/stories260K-q8_0.gguf");
    ullm::Session session(model, {.context_length = 128});
    ullm::GenerateOptions options;
    options.max_tokens = 64;
    options.sampler.temperature = 0;  // greedy
    ullm::generate(session, "Once upon a time", options, [](ullm::Token, std::string_view text) {
      std::cout << text << std::flush;
      return true;
    });
    std::cout << '\n';
  } catch (const ullm::Error& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
}
