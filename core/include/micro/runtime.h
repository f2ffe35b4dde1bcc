// The set of components one process uses, loaded from a Config: it is the plugin registry the
// Service owns (there is no global one). Creates components in dependency order, starts them
// in that order and stops them in reverse.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "micro/broker.h"
#include "micro/codec.h"
#include "micro/config.h"
#include "micro/loader.h"
#include "micro/registry.h"
#include "micro/selector.h"
#include "micro/transport.h"

namespace micro {

class Runtime : public plugin::Host {
 public:
  /// Finds, loads, creates and initialises every configured plugin (not started).
  /// Throws plugin::PluginError or Error{config}; nothing stays loaded on failure.
  explicit Runtime(Config config);
  ~Runtime() override;

  const Config& config() const noexcept { return config_; }
  plugin::Loader& loader() noexcept { return *loader_; }

  /// Starts components in dependency order; on failure stops those started and rethrows.
  void start();
  /// Stops started components in reverse order. Idempotent, never throws.
  void stop() noexcept;

  std::shared_ptr<Registry> registry() override;
  std::shared_ptr<Transport> transport() override;
  std::shared_ptr<Broker> broker() override;
  std::shared_ptr<Selector> selector() override;
  std::shared_ptr<Codec> codec(std::string_view content_type) override;
  const std::vector<std::shared_ptr<Codec>>& codecs() const noexcept { return codecs_; }

  /// Loads another transport by plugin name (cached). Thread-safe. Throws PluginError.
  std::shared_ptr<Transport> transport(std::string_view name);

  /// Descriptors of the loaded plugins in start order.
  const std::vector<plugin::Descriptor>& loaded() const noexcept { return loaded_; }

 private:
  struct Slot;
  Config config_;
  std::unique_ptr<plugin::Loader> loader_;
  std::shared_ptr<Transport> transport_;
  std::shared_ptr<Registry> registry_;
  std::shared_ptr<Selector> selector_;
  std::shared_ptr<Broker> broker_;
  std::vector<std::shared_ptr<Codec>> codecs_;
  std::vector<plugin::Descriptor> loaded_;
  std::vector<std::shared_ptr<Component>> order_;
  std::size_t started_ = 0;
  std::vector<plugin::Kind> creating_requires_;
  std::mutex extra_mu_;
  std::map<std::string, std::shared_ptr<Transport>, std::less<>> extra_transports_;
};

}  // namespace micro
