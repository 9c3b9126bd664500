#include "src/supervise/fifo.hpp"

#include <vector>

namespace contd::supervise {

size_t container_fifo::waiting(const std::string& id) const {
  auto it = lanes_.find(id);
  return it == lanes_.end() ? 0 : it->second.waiting.size();
}

void container_fifo::push(const std::string& id, op_fn op, bool read) {
  auto& l = lanes_[id];
  if (l.running == 0 && l.waiting.empty()) {
    l.running = 1;
    l.reading = read;
    start(id, std::move(op));
    return;
  }
  if (read && l.reading && l.waiting.empty()) {
    l.running++;
    start(id, std::move(op));
    return;
  }
  l.waiting.emplace_back(std::move(op), read);
}

void container_fifo::start(const std::string& id, op_fn op) {
  auto called = std::make_shared<bool>(false);
  std::weak_ptr<container_fifo*> alive = alive_;
  op([alive, id, called] {
    auto self = alive.lock();
    if (!self || *called)
      return;
    *called = true;
    auto& lanes = (*self)->lanes_;
    auto it = lanes.find(id);
    if (it != lanes.end() && --it->second.running == 0)
      (*self)->start_waiting(id);
  });
}

void container_fifo::start_waiting(const std::string& id) {
  auto it = lanes_.find(id);
  if (it == lanes_.end())
    return;
  auto& l = it->second;
  if (l.waiting.empty()) {
    lanes_.erase(it);
    if (lanes_.empty() && on_idle)
      on_idle();
    return;
  }
  l.reading = l.waiting.front().second;
  std::vector<op_fn> batch;
  do {
    batch.push_back(std::move(l.waiting.front().first));
    l.waiting.pop_front();
  } while (l.reading && !l.waiting.empty() && l.waiting.front().second);
  l.running += batch.size();
  // `l` may be erased by an operation that completes synchronously: no access after this.
  for (auto& op : batch)
    start(id, std::move(op));
}

} // namespace contd::supervise
