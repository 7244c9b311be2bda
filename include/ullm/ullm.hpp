// The umbrella header: everything a program embedding ullm needs.
#pragma once

#include "ullm/chat.hpp"
#include "ullm/error.hpp"
#include "ullm/generate.hpp"
#include "ullm/gguf.hpp"
#include "ullm/model.hpp"
#include "ullm/sampler.hpp"
#include "ullm/session.hpp"
#include "ullm/tensor.hpp"
#include "ullm/tokenizer.hpp"
