import { StatusBar } from 'expo-status-bar';
import { useState } from 'react';
import { StyleSheet } from 'react-native';
import { SafeAreaProvider, SafeAreaView } from 'react-native-safe-area-context';

import type { CallCredentials } from './src/api/tokenClient';
import { getTokenServiceUrl } from './src/config';
import { CallScreen } from './src/screens/CallScreen';
import { SignInScreen } from './src/screens/SignInScreen';
import { colors } from './src/theme';

export default function App() {
  const [credentials, setCredentials] = useState<CallCredentials | null>(null);
  const [lastCustomerNumber, setLastCustomerNumber] = useState('');
  const [signInNotice, setSignInNotice] = useState<string | null>(null);
  // Each call gets a fresh LiveKit Room; bumping the key remounts the call screen.
  const [callKey, setCallKey] = useState(0);

  return (
    <SafeAreaProvider>
      <SafeAreaView style={styles.root}>
        <StatusBar style="dark" />
        {credentials ? (
          <CallScreen
            key={callKey}
            credentials={credentials}
            onCallAgain={() => setCallKey((k) => k + 1)}
            onSignOut={(reason) => {
              setSignInNotice(reason ?? null);
              setCredentials(null);
            }}
          />
        ) : (
          <SignInScreen
            tokenServiceUrl={getTokenServiceUrl()}
            initialCustomerNumber={lastCustomerNumber}
            notice={signInNotice}
            onSignedIn={(creds) => {
              setLastCustomerNumber(creds.customerNumber);
              setSignInNotice(null);
              setCallKey((k) => k + 1);
              setCredentials(creds);
            }}
          />
        )}
      </SafeAreaView>
    </SafeAreaProvider>
  );
}

const styles = StyleSheet.create({
  root: { flex: 1, backgroundColor: colors.background },
});
