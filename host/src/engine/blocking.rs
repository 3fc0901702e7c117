//! Synchronous use of the async sessions: each decision is driven to completion on the
//! calling thread. A module's yields on deadline-clock ticks just poll again.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

use super::{AsyncSession, EngineError, Quoted, Session, Usage};
use crate::model::{Cart, Decided, ShippingOption, TaxDecision, Verdict};

/// Runs `future` to completion on this thread, parking between polls.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

/// An [`AsyncSession`] used synchronously.
pub(super) struct Blocking<'a>(pub(super) Box<dyn AsyncSession + 'a>);

impl Session for Blocking<'_> {
    fn shipping_options(
        &mut self,
        cart: &Cart,
    ) -> Result<Decided<Vec<ShippingOption>>, EngineError> {
        block_on(self.0.shipping_options(cart))
    }

    fn tax(&mut self, cart: &Cart) -> Result<Decided<TaxDecision>, EngineError> {
        block_on(self.0.tax(cart))
    }

    fn validate(&mut self, cart: &Cart) -> Result<Decided<Verdict>, EngineError> {
        block_on(self.0.validate(cart))
    }

    fn quote(&mut self, cart: &Cart) -> Quoted {
        block_on(self.0.quote(cart))
    }

    fn usage(&self) -> &Usage {
        self.0.usage()
    }
}
