"""The tasks, one module each: gradients, explain, graph, train, predict, diff, hessian, check. Each
starts from the setup and is judged by compare; none imports another."""
