"""The model: Spark's scheduling policy (plain Python) and a SimPy discrete-event layer that supplies time."""
