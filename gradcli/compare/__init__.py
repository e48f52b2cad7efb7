"""Judging: the evidence each engine gives, the witnesses beside backprop, and the verdicts, with
tolerances scaled to what float64 can resolve. Between the engines and the tasks."""
