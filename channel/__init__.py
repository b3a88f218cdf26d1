"""Channel side: applies y = h*x + n (maths in ``shared.channel``) to a transmission."""
