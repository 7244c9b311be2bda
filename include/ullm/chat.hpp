// Chat templates: turning a conversation into the prompt text a model was
// trained on. ullm does not run Jinja; it recognises the templates of the
// families it supports (from the GGUF's tokenizer.chat_template) and renders
// them in C++, byte for byte as the Jinja would.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ullm {

class Model;

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

struct ChatOptions {
  // End with the opening of an assistant turn, for the model to continue.
  bool add_generation_prompt = true;
  // Qwen3 / DeepSeek-R1: false opens the reply with an empty think block.
  bool enable_thinking = true;
  // Today's date for the templates that state it (Llama 3.1+, Granite), as
  // YYYY-MM-DD; empty: the system's local date.
  std::string date = {};
};

class ChatTemplate {
 public:
  // The template families ullm renders, by name: chatml, qwen2.5, qwen3,
  // llama3, llama3.1, gemma, phi3, deepseek-r1, granite, smollm3.
  static std::vector<std::string> known_names();

  // Throws UnsupportedError naming the known templates if `name` is not one.
  static ChatTemplate named(std::string_view name);

  // Recognises a Jinja template's family from its text. Throws
  // UnsupportedError when it is none ullm knows (say which with named()).
  static ChatTemplate detect(std::string_view jinja);

  // The model's own template (tokenizer.chat_template), with its BOS/EOS
  // texts; `override_name` (e.g. from --chat-template) replaces detection.
  // Throws UnsupportedError if the model has no template and none is named.
  static ChatTemplate for_model(const Model& model, std::string_view override_name = {});

  const std::string& name() const { return name_; }

  // The prompt text for `messages`. Throws InvalidArgument for a role the
  // template does not know, an empty conversation or a malformed date.
  std::string apply(std::span<const ChatMessage> messages, const ChatOptions& options = {}) const;

  // The texts the templates use for {{ bos_token }} and {{ eos_token }}.
  void set_special_tokens(std::string bos, std::string eos);

 private:
  explicit ChatTemplate(std::string name) : name_(std::move(name)) {}
  std::string name_;
  std::string bos_, eos_;
};

}  // namespace ullm
