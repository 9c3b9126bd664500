// The transactions of a tenant (see tenant.hpp), each a job with named steps, and the model
// operations they share with the tenant's behaviour. Internal to the tenant: only its own files
// (tenant*.cpp) include this.
#pragma once

#include <optional>
#include <string>

#include <caf/response_promise.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/tenant.hpp"

namespace contd::jobs {

using done_fn = supervise::container_fifo::done_fn;
// Untyped: CAF 0.17 cannot deliver an empty reply through typed_response_promise<void>.
using void_promise = caf::response_promise;

// --- helpers the behaviour uses too ---

/// Queues `op` in the FIFO of container `id` (and marks the tenant busy).
void enqueue(tenant_pointer self, const std::string& id, std::function<void(done_fn)> op,
             bool read = false);

/// Runs `fn` after `delay` on the tenant's clock (a timer message, never a sleep).
void after(tenant_pointer self, caf::timespan delay, std::function<void()> fn);

/// Unix time in ns, measured with the actor clock from the tenant's origin.
int64_t unix_now(tenant_pointer self);

/// Reports a state transition of `id` to the module (which publishes it).
void publish(tenant_pointer self, const std::string& id, const std::string& kind,
             const std::string& reason = {});

/// An exit of the init process of a managed container: records it and applies the policy.
void on_exit(tenant_pointer self, const task_event& ev);

/// Retires the tenant when it has nothing to do and nothing to supervise.
void maybe_idle(tenant_pointer self);

// --- the jobs, each run inside the container's FIFO (`done` ends it) ---

void run(tenant_pointer self, container c, caf::typed_response_promise<std::string> rp,
         done_fn done);
void inspect(tenant_pointer self, std::string id, caf::typed_response_promise<container> rp,
             done_fn done);
/// Delete; without a promise it is the reconciler finishing a Delete or a rolled-back Run.
void remove(tenant_pointer self, std::string id, std::optional<void_promise> rp, done_fn done);
void signal_delete(tenant_pointer self, std::string id, void_promise rp, done_fn done);
void exec(tenant_pointer self, std::string id, caf::timespan timeout, std::vector<std::string> args,
          void_promise rp, done_fn done);
/// A restart under the container's policy (after its backoff), counted.
void restart(tenant_pointer self, std::string id, done_fn done);

// --- reconciliation ---

/// Lists the namespace (Containers.List + Tasks.List) and brings every managed container to its
/// desired state through a sync job in its FIFO. The model answers Inspect again when all are
/// done.
void reconcile(tenant_pointer self);

} // namespace contd::jobs
