package dev.ddpm4j.cli;
public class Main { public static void main(String[] a) { System.out.println("hi " + org.tensorflow.TensorFlow.version()); } }
