"""Reading Spark event logs, fitting the model's task costs, validating predictions against real runs."""
