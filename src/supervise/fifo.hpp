// The per-container FIFO of a tenant: operations on one container run in arrival order and never
// overlap, except that reads that meet only reads run side by side; operations on different
// containers never wait for each other. An operation receives `done` and calls it once (calling
// it again is harmless); it may call it before it returns.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace contd::supervise {

class container_fifo {
public:
  using done_fn = std::function<void()>;
  using op_fn = std::function<void(done_fn)>;

  /// Runs `op` now when the container's lane allows, else queues it behind what is there.
  void push(const std::string& id, op_fn op, bool read = false);

  /// True when nothing runs or waits, for any container.
  bool idle() const { return lanes_.empty(); }

  /// True when something runs or waits for `id`.
  bool busy(const std::string& id) const { return lanes_.count(id) > 0; }

  /// Operations waiting (not running) for `id`.
  size_t waiting(const std::string& id) const;

  /// Called each time the last operation of all ends (the FIFO became idle).
  std::function<void()> on_idle;

private:
  struct lane {
    std::deque<std::pair<op_fn, bool>> waiting;
    size_t running = 0;
    bool reading = false; // the running operations are reads
  };

  void start(const std::string& id, op_fn op);
  void start_waiting(const std::string& id);

  std::map<std::string, lane> lanes_;
  // Lets `done` closures that outlive the FIFO do nothing.
  std::shared_ptr<container_fifo*> alive_ = std::make_shared<container_fifo*>(this);
};

} // namespace contd::supervise
